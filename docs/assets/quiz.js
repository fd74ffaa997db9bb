/* Lossbook quizzes (docs/hooks/quiz.py renders them; this file only makes them interactive).
 * Without JavaScript a quiz is a question, its options and a <details> with every answer explained.
 * With it: each option is a button (Tab to it, Enter answers) and a numeric question gets an input;
 * the verdict, its explanation and the section to re-read are announced in an aria-live region.
 * The answer key was computed by the library at build time: it is read from the page, never typed. */
(function () {
  "use strict";

  var LETTERS = "ABCDEF";

  /* A number as a reader types it: "0.041", ".041", "-1,5", "4.1e-2", "4.1 %" (a percentage). */
  function parseNumber(text) {
    var s = String(text).trim().replace(/\u2212/g, "-").replace(/\s+/g, "");
    var percent = /%$/.test(s);
    if (percent) s = s.slice(0, -1);
    if (s.indexOf(".") < 0 && /^-?\d+,\d+$/.test(s)) s = s.replace(",", ".");
    if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(s)) return NaN;
    var value = parseFloat(s);
    return percent ? value / 100 : value;
  }

  function clone(node) {
    var copy = node.cloneNode(true);
    copy.removeAttribute && copy.removeAttribute("id");
    return copy;
  }

  function say(quiz, verdict, parts) {
    var box = quiz.querySelector(".lb-quiz__feedback");
    box.textContent = "";
    box.className = "lb-quiz__feedback lb-quiz__feedback--" + verdict;
    var head = document.createElement("p");
    var mark = document.createElement("strong");
    mark.className = "lb-quiz__verdict";
    mark.textContent = verdict === "right" ? "\u2713 Right." : verdict === "wrong" ? "\u2717 Not quite." : "";
    head.appendChild(mark);
    parts.forEach(function (part) {
      head.appendChild(document.createTextNode(" "));
      if (typeof part === "string") head.appendChild(document.createTextNode(part));
      else head.appendChild(part);
    });
    box.appendChild(head);
    if (verdict !== "right") {
      var see = quiz.querySelector(".lb-quiz__see");
      if (see) box.appendChild(clone(see));
    }
    quiz.setAttribute("data-state", verdict);
    document.dispatchEvent(new CustomEvent("lossbook:quiz", {detail: {id: quiz.id, verdict: verdict}}));
  }

  function span(node) {
    var out = document.createElement("span");
    for (var child = node.firstChild; child; child = child.nextSibling) out.appendChild(clone(child));
    return out;
  }

  function setupChoice(quiz) {
    var right = Number(quiz.getAttribute("data-correct"));
    var items = quiz.querySelectorAll(".lb-quiz__options > li");
    var whys = quiz.querySelectorAll(".lb-quiz__why");
    var buttons = [];
    Array.prototype.forEach.call(items, function (item, k) {
      var button = document.createElement("button");
      button.type = "button";
      button.className = "lb-quiz__option";
      var letter = document.createElement("span");
      letter.className = "lb-quiz__letter";
      letter.setAttribute("aria-hidden", "true");
      letter.textContent = LETTERS[k];
      var label = document.createElement("span");
      label.className = "lb-quiz__label";
      while (item.firstChild) label.appendChild(item.firstChild);
      button.appendChild(letter);
      button.appendChild(label);
      button.setAttribute("aria-label", "Answer " + LETTERS[k] + ": " + label.textContent.trim());
      item.appendChild(button);
      buttons.push(button);
      button.addEventListener("click", function () {
        var correct = k === right;
        button.setAttribute("data-state", correct ? "right" : "wrong");
        if (correct) buttons.forEach(function (b) { b.setAttribute("aria-disabled", "true"); });
        var why = span(whys[k]);
        var label = why.querySelector("strong");  // "B: Wrong." (the verdict is said once, above)
        if (label && label === why.firstChild) label.remove();
        say(quiz, correct ? "right" : "wrong", [LETTERS[k] + ":", why]);
      });
    });
    quiz.querySelector(".lb-quiz__options").classList.add("lb-quiz__options--live");
  }

  function setupNumber(quiz) {
    var answer = Number(quiz.getAttribute("data-answer"));
    var tolerance = Number(quiz.getAttribute("data-tolerance"));
    var mistakes = JSON.parse(quiz.getAttribute("data-mistakes") || "[]");
    var mistakeNotes = quiz.querySelectorAll(".lb-quiz__mistake");
    var how = quiz.querySelector(".lb-quiz__how");
    var form = document.createElement("form");
    form.className = "lb-quiz__form";
    var input = document.createElement("input");
    input.type = "text";
    input.inputMode = "decimal";
    input.autocomplete = "off";
    input.spellcheck = false;
    input.id = quiz.id + "-input";
    input.className = "lb-quiz__input";
    var label = document.createElement("label");
    label.htmlFor = input.id;
    label.textContent = "Your answer";
    var check = document.createElement("button");
    check.type = "submit";
    check.className = "lb-quiz__check md-button";
    check.textContent = "Check";
    form.appendChild(label);
    form.appendChild(input);
    form.appendChild(check);
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      var value = parseNumber(input.value);
      if (isNaN(value)) {
        say(quiz, "hint", ["Type a number, such as 0.25 or 2.5e-3."]);
        return;
      }
      if (Math.abs(value - answer) <= tolerance) {
        say(quiz, "right", ["The key is " + quiz.getAttribute("data-shown") + ".", span(how)]);
        return;
      }
      for (var k = 0; k < mistakes.length; k++) {
        if (Math.abs(value - mistakes[k]) <= tolerance) {
          say(quiz, "wrong", [span(mistakeNotes[k])]);
          return;
        }
      }
      var hint = document.createElement("span");
      hint.textContent = value + " is not within \u00b1" + tolerance + " of the key.";
      say(quiz, "wrong", [hint, span(how)]);
    });
    (quiz.querySelector(".lb-quiz__given") || quiz.querySelector(".lb-quiz__question")).after(form);
  }

  function setup(quiz) {
    if (quiz.getAttribute("data-ready")) return;
    quiz.setAttribute("data-ready", "1");
    var feedback = document.createElement("div");
    feedback.className = "lb-quiz__feedback";
    feedback.setAttribute("role", "status");
    feedback.setAttribute("aria-live", "polite");
    quiz.insertBefore(feedback, quiz.querySelector(".lb-quiz__answer"));
    if (quiz.getAttribute("data-kind") === "choice") setupChoice(quiz);
    else setupNumber(quiz);
  }

  function init() {
    Array.prototype.forEach.call(document.querySelectorAll(".lb-quiz"), setup);
  }

  window.LossbookQuiz = {parseNumber: parseNumber, init: init};
  if (window.document$ && typeof window.document$.subscribe === "function") window.document$.subscribe(init);
  else if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
