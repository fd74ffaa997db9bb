/* Lossbook review queue: the cards of the Review page (docs/hooks/review.py puts them in the page),
 * scheduled with Leitner boxes. Missed: box 1, due in 10 minutes. Got it: one box up (at most 5),
 * due after 1, 2, 4, 8 or 16 days. The queue: due cards, earliest due first (then lower box, then
 * site order), then new cards in site order. State lives in LossbookProgress (assets/progress.js).
 * Time is Date.now(), so a test can set the clock. */
(function () {
  "use strict";

  var MINUTE = 60 * 1000;
  var DAY = 24 * 60 * MINUTE;
  var INTERVALS = [0, 1, 2, 4, 8, 16];  // days, for boxes 1..5
  var AGAIN = 10 * MINUTE;

  function schedule(state, gotIt, now) {
    var previous = state || {box: 0, due: 0, reviews: 0, lapses: 0};
    var box = gotIt ? Math.min(5, previous.box + 1) : 1;
    return {
      box: box,
      due: now + (gotIt ? INTERVALS[box] * DAY : AGAIN),
      reviews: (previous.reviews || 0) + 1,
      lapses: (previous.lapses || 0) + (gotIt ? 0 : 1),
    };
  }

  /* cards: [{id, index, ...}] in site order; states: {id: {box, due}}. Returns the ordered queue. */
  function order(cards, states, now) {
    var due = [];
    var fresh = [];
    cards.forEach(function (card) {
      var state = states[card.id];
      if (!state) fresh.push(card);
      else if (state.due <= now) due.push(card);
    });
    due.sort(function (a, b) {
      var sa = states[a.id];
      var sb = states[b.id];
      return sa.due - sb.due || sa.box - sb.box || a.index - b.index;
    });
    return due.concat(fresh);
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function copyChildren(from, to) {
    for (var child = from.firstChild; child; child = child.nextSibling) to.appendChild(child.cloneNode(true));
    return to;
  }

  function when(time, now) {
    var minutes = Math.round((time - now) / MINUTE);
    if (minutes < 60) return "in " + Math.max(1, minutes) + " min";
    var hours = Math.round(minutes / 60);
    if (hours < 36) return "in " + hours + " h";
    return "in " + Math.round(hours / 24) + " days";
  }

  function setup(root) {
    if (root.getAttribute("data-ready")) return;
    root.setAttribute("data-ready", "1");
    var cards = Array.prototype.map.call(document.querySelectorAll("#lb-review-cards .lb-card"), function (node, index) {
      return {id: node.getAttribute("data-card"), lesson: node.getAttribute("data-lesson"),
              difficulty: node.getAttribute("data-difficulty"), node: node, index: index};
    });
    root.textContent = "";
    if (!cards.length) {
      root.appendChild(el("p", {}, "No cards were found on this site."));
      return;
    }

    var filters = el("div", {"class": "lb-review__filters"});
    function select(label, name, values) {
      var id = "lb-review-" + name;
      var wrap = el("span", {"class": "lb-review__filter"});
      wrap.appendChild(el("label", {"for": id}, label));
      var box = el("select", {id: id, name: name});
      box.appendChild(el("option", {value: ""}, "All"));
      values.forEach(function (value) { box.appendChild(el("option", {value: value}, value)); });
      wrap.appendChild(box);
      filters.appendChild(wrap);
      return box;
    }
    var lessons = [];
    cards.forEach(function (c) { if (lessons.indexOf(c.lesson) < 0) lessons.push(c.lesson); });
    var levels = ["easy", "medium", "hard", "unrated"].filter(function (d) {
      return cards.some(function (c) { return c.difficulty === d; });
    });
    var lessonBox = select("Lesson", "lesson", lessons);
    var levelBox = select("Difficulty", "difficulty", levels);
    var stats = el("p", {"class": "lb-review__stats", role: "status", "aria-live": "polite"});
    var stage = el("div", {"class": "lb-review__card", tabindex: "-1"});
    root.appendChild(filters);
    root.appendChild(stats);
    root.appendChild(stage);

    function chosen() {
      return cards.filter(function (c) {
        return (!lessonBox.value || c.lesson === lessonBox.value) && (!levelBox.value || c.difficulty === levelBox.value);
      });
    }

    function queue(now) {
      return order(chosen(), window.LossbookProgress.load().review, now);
    }

    function show() {
      if (!root.isConnected) return;
      var now = Date.now();
      var states = window.LossbookProgress.load().review;
      var pool = chosen();
      var waiting = order(pool, states, now);
      var fresh = pool.filter(function (c) { return !states[c.id]; }).length;
      stats.textContent = (waiting.length - fresh) + " due now \u00b7 " + fresh + " new \u00b7 " +
        (pool.length - waiting.length) + " waiting \u00b7 " + pool.length + " cards in this selection";
      stage.textContent = "";
      var card = waiting[0];
      if (!card) {
        var next = pool.map(function (c) { return states[c.id] && states[c.id].due; }).filter(Boolean).sort()[0];
        stage.appendChild(el("p", {"class": "lb-review__done"},
          "Nothing is due in this selection." + (next ? " The next card is due " + when(next, now) + "." : "")));
        stage.removeAttribute("data-card");
        return;
      }
      var state = states[card.id];
      stage.setAttribute("data-card", card.id);
      var meta = el("p", {"class": "lb-review__meta"},
        card.lesson + " \u00b7 " + card.difficulty + " \u00b7 " + (state ? "box " + state.box : "new"));
      var question = copyChildren(card.node.querySelector(".lb-card__question"), el("p", {"class": "lb-review__question"}));
      var reveal = el("button", {type: "button", "class": "md-button md-button--primary", "data-action": "reveal"}, "Show the answer");
      stage.appendChild(meta);
      stage.appendChild(question);
      stage.appendChild(reveal);
      reveal.addEventListener("click", function () {
        reveal.remove();
        var answer = copyChildren(card.node.querySelector(".lb-card__answer"), el("div", {"class": "lb-review__answer"}));
        var source = card.node.querySelector(".lb-card__source").cloneNode(true);
        var from = el("p", {"class": "lb-review__source"}, "From ");
        from.appendChild(source);
        var grade = el("p", {"class": "lb-review__grade"});
        var missed = el("button", {type: "button", "class": "md-button", "data-action": "missed"}, "Missed it (back in 10 min)");
        var nextBox = Math.min(5, (state ? state.box : 0) + 1);
        var got = el("button", {type: "button", "class": "md-button md-button--primary", "data-action": "got"},
          "Got it (next in " + INTERVALS[nextBox] + (INTERVALS[nextBox] === 1 ? " day)" : " days)"));
        grade.appendChild(missed);
        grade.appendChild(got);
        stage.appendChild(answer);
        stage.appendChild(from);
        stage.appendChild(grade);
        missed.addEventListener("click", function () { rate(card, false); });
        got.addEventListener("click", function () { rate(card, true); });
        got.focus();
      });
    }

    function rate(card, gotIt) {
      var now = Date.now();
      window.LossbookProgress.update("review", function (review) {
        review[card.id] = schedule(review[card.id], gotIt, now);
      });  // announces lossbook:progress, which shows the next card
      var button = stage.querySelector("button");
      (button || stage).focus();
    }

    lessonBox.addEventListener("change", show);
    levelBox.addEventListener("change", show);
    document.addEventListener("lossbook:progress", function listener() {
      if (!root.isConnected) document.removeEventListener("lossbook:progress", listener);
      else show();
    });
    window.LossbookReview = {
      queue: function (now) { return queue(now === undefined ? Date.now() : now).map(function (c) { return c.id; }); },
      show: show,
    };
    show();
  }

  window.LossbookReviewScheduler = {schedule: schedule, order: order, INTERVALS: INTERVALS, AGAIN: AGAIN};

  function init() {
    var root = document.getElementById("lb-review-app");
    if (root) setup(root);
  }

  if (window.document$ && typeof window.document$.subscribe === "function") window.document$.subscribe(init);
  else if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
