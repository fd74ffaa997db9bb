/* Lossbook mock interview: a 45-minute timer in three parts (theory, modelling judgement, code,
 * 15 minutes each), pausable, with prompts drawn at random from the bank on the page (rendered by
 * docs/hooks/quiz.py from `prompt` blocks). The rubric of a strong answer stays folded until you
 * have answered. Time is Date.now(), so a test can drive the clock. */
(function () {
  "use strict";

  var PARTS = [
    {key: "theory", label: "Theory", minutes: 15},
    {key: "judgement", label: "Modelling judgement", minutes: 15},
    {key: "code", label: "Code", minutes: 15},
  ];
  var MINUTE = 60 * 1000;
  var TOTAL = PARTS.reduce(function (sum, p) { return sum + p.minutes * MINUTE; }, 0);

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function clock(ms) {
    var seconds = Math.max(0, Math.ceil(ms / 1000));
    var m = Math.floor(seconds / 60);
    var s = seconds % 60;
    return m + ":" + (s < 10 ? "0" : "") + s;
  }

  function partAt(elapsed) {
    var start = 0;
    for (var k = 0; k < PARTS.length; k++) {
      var end = start + PARTS[k].minutes * MINUTE;
      if (elapsed < end) return {index: k, left: end - elapsed};
      start = end;
    }
    return {index: PARTS.length, left: 0};
  }

  function setup(root) {
    if (root.getAttribute("data-ready")) return;
    root.setAttribute("data-ready", "1");
    var bank = {};
    PARTS.forEach(function (p) { bank[p.key] = []; });
    Array.prototype.forEach.call(document.querySelectorAll(".lb-prompt[data-part]"), function (node) {
      var part = node.getAttribute("data-part");
      if (bank[part]) bank[part].push(node);
    });
    var used = {};
    var state = {running: false, elapsed: 0, since: 0, part: -1, prompt: null, finished: false};

    root.textContent = "";
    var display = el("p", {"class": "lb-mock__timer", role: "timer", "aria-atomic": "true"});
    var announce = el("p", {"class": "lb-mock__announce", role: "status", "aria-live": "polite"});
    var controls = el("p", {"class": "lb-mock__controls"});
    var startButton = el("button", {type: "button", "class": "md-button md-button--primary", "data-action": "start"}, "Start the interview");
    var pauseButton = el("button", {type: "button", "class": "md-button", "data-action": "pause", hidden: ""}, "Pause");
    var nextButton = el("button", {type: "button", "class": "md-button", "data-action": "next", hidden: ""}, "Another prompt");
    var skipButton = el("button", {type: "button", "class": "md-button", "data-action": "skip", hidden: ""}, "Next part");
    [startButton, pauseButton, nextButton, skipButton].forEach(function (b) { controls.appendChild(b); });
    var stage = el("div", {"class": "lb-mock__prompt", tabindex: "-1"});
    root.appendChild(display);
    root.appendChild(controls);
    root.appendChild(announce);
    root.appendChild(stage);

    function elapsed() {
      return Math.min(TOTAL, state.elapsed + (state.running ? Date.now() - state.since : 0));
    }

    function draw(partIndex) {
      var part = PARTS[partIndex];
      var pool = bank[part.key];
      if (!pool.length) return;
      var unused = pool.filter(function (node) { return !used[node.id]; });
      if (!unused.length) {
        pool.forEach(function (node) { delete used[node.id]; });
        unused = pool.slice();
      }
      var node = unused[Math.floor(Math.random() * unused.length)];
      used[node.id] = true;
      state.prompt = node.id;
      stage.textContent = "";
      stage.setAttribute("data-prompt", node.id);
      var copy = node.cloneNode(true);
      copy.removeAttribute("id");
      copy.classList.add("lb-prompt--drawn");
      var rubric = copy.querySelector("details");
      if (rubric) {
        rubric.open = false;
        rubric.querySelector("summary").textContent = "I have answered: show the rubric of a strong answer";
      }
      stage.appendChild(copy);
    }

    function render() {
      if (!root.isConnected) return false;
      var now = elapsed();
      var at = partAt(now);
      if (at.index !== state.part) {
        state.part = at.index;
        if (at.index < PARTS.length) {
          draw(at.index);
          announce.textContent = "Part " + (at.index + 1) + " of 3: " + PARTS[at.index].label + ". " +
            PARTS[at.index].minutes + " minutes.";
        }
      }
      if (at.index >= PARTS.length) {
        state.running = false;
        state.finished = true;
        display.textContent = "Time. 45 minutes are up.";
        announce.textContent = "The interview is over. Go through the rubrics you did not open yet.";
        pauseButton.hidden = true;
        nextButton.hidden = true;
        skipButton.hidden = true;
        startButton.hidden = false;
        startButton.textContent = "Start a new interview";
        return false;
      }
      display.setAttribute("data-part", PARTS[at.index].key);
      display.textContent = "Part " + (at.index + 1) + " of 3 \u00b7 " + PARTS[at.index].label + " \u00b7 " +
        clock(at.left) + " left in this part \u00b7 " + clock(TOTAL - now) + " in all" +
        (state.running ? "" : " \u00b7 paused");
      return true;
    }

    var ticker = null;
    function tick() {
      if (!render() && ticker !== null) {
        clearInterval(ticker);
        ticker = null;
      }
    }

    function run() {
      state.running = true;
      state.since = Date.now();
      pauseButton.textContent = "Pause";
      if (ticker === null) ticker = setInterval(tick, 250);
      render();
    }

    startButton.addEventListener("click", function () {
      used = {};
      state = {running: false, elapsed: 0, since: 0, part: -1, prompt: null, finished: false};
      startButton.hidden = true;
      pauseButton.hidden = false;
      nextButton.hidden = false;
      skipButton.hidden = false;
      run();
      stage.focus();
    });
    pauseButton.addEventListener("click", function () {
      if (state.running) {
        state.elapsed = elapsed();
        state.running = false;
        pauseButton.textContent = "Resume";
        announce.textContent = "Paused.";
        render();
      } else {
        announce.textContent = "Resumed.";
        run();
      }
    });
    nextButton.addEventListener("click", function () {
      if (state.part >= 0 && state.part < PARTS.length) draw(state.part);
    });
    skipButton.addEventListener("click", function () {
      var now = elapsed();
      var at = partAt(now);
      state.elapsed = now + at.left;  // jump to the start of the next part
      state.since = Date.now();
      tick();
    });

    window.LossbookMock = {
      state: function () {
        var at = partAt(elapsed());
        return {running: state.running, elapsed: elapsed(), part: at.index < PARTS.length ? PARTS[at.index].key : null,
                left: at.left, prompt: state.prompt};
      },
      bank: function () {
        var sizes = {};
        PARTS.forEach(function (p) { sizes[p.key] = bank[p.key].length; });
        return sizes;
      },
    };
    display.textContent = "45:00 in three parts of 15 minutes: theory, modelling judgement, code.";
  }

  function init() {
    var root = document.getElementById("lb-mock-app");
    if (root) setup(root);
  }

  if (window.document$ && typeof window.document$.subscribe === "function") window.document$.subscribe(init);
  else if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
