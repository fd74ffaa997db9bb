/* Lossbook progress: what the reader has done, stored only in this browser (localStorage), with
 * export to and import from a JSON file. Two parts: "review" (the Leitner state of each card of the
 * Review page) and "plan" (the ticked tasks of the one-week plan on the home page).
 *
 * An imported file is data, never code: it is read with JSON.parse, checked field by field, and
 * refused as a whole (with a message, the stored progress untouched) when it is not a Lossbook
 * progress file or a known field has a wrong type. Unknown keys are dropped. */
(function () {
  "use strict";

  var KEY = "lossbook.progress";
  var FORMAT = "lossbook-progress";
  var VERSION = 1;
  var MAX_BYTES = 2000000;
  var ID = /^[\w./-]{1,200}#[\w.:-]{1,200}$/;
  var TASK = /^[\w-]{1,100}:\d{1,3}$/;

  function empty() {
    return {format: FORMAT, version: VERSION, review: {}, plan: {}};
  }

  function isObject(value) {
    return value !== null && typeof value === "object" && !Array.isArray(value);
  }

  function isCount(value) {
    return typeof value === "number" && Number.isInteger(value) && value >= 0 && value < 1e9;
  }

  /* Check a parsed object; return a clean copy holding only known keys, or throw an Error whose
   * message says what is wrong. */
  function validate(data) {
    if (!isObject(data) || data.format !== FORMAT) {
      throw new Error("This is not a Lossbook progress file (it has no \"format\": \"" + FORMAT + "\").");
    }
    if (data.version !== VERSION) {
      throw new Error("This progress file has version " + JSON.stringify(data.version) +
                      "; this site reads version " + VERSION + ".");
    }
    var clean = empty();
    var review = data.review === undefined ? {} : data.review;
    if (!isObject(review)) throw new Error("\"review\" must be an object of cards.");
    Object.keys(review).forEach(function (id) {
      var card = review[id];
      if (!ID.test(id)) throw new Error("\"review\" has a card id that is not one: " + JSON.stringify(id.slice(0, 80)));
      if (!isObject(card)) throw new Error("The card " + id + " is not an object.");
      if (!(Number.isInteger(card.box) && card.box >= 1 && card.box <= 5)) {
        throw new Error("The card " + id + " has box " + JSON.stringify(card.box) + "; boxes are 1 to 5.");
      }
      if (!(typeof card.due === "number" && isFinite(card.due) && card.due >= 0)) {
        throw new Error("The card " + id + " has no valid due time.");
      }
      var entry = {box: card.box, due: card.due, reviews: 0, lapses: 0};
      ["reviews", "lapses"].forEach(function (name) {
        if (card[name] !== undefined) {
          if (!isCount(card[name])) throw new Error("The card " + id + " has an invalid \"" + name + "\".");
          entry[name] = card[name];
        }
      });
      clean.review[id] = entry;
    });
    var plan = data.plan === undefined ? {} : data.plan;
    if (!isObject(plan)) throw new Error("\"plan\" must be an object of ticked tasks.");
    Object.keys(plan).forEach(function (task) {
      if (!TASK.test(task)) throw new Error("\"plan\" has a task id that is not one: " + JSON.stringify(task.slice(0, 80)));
      if (plan[task] !== true) throw new Error("The task " + task + " must be true (ticked) or absent.");
      clean.plan[task] = true;
    });
    return clean;
  }

  function load() {
    var text = null;
    try {
      text = window.localStorage.getItem(KEY);
    } catch (error) {
      return empty();  // storage disabled: nothing is kept, nothing breaks
    }
    if (!text) return empty();
    try {
      return validate(JSON.parse(text));
    } catch (error) {
      return empty();
    }
  }

  function save(data) {
    try {
      window.localStorage.setItem(KEY, JSON.stringify(validate(data)));
      return true;
    } catch (error) {
      return false;
    }
  }

  function exportText() {
    var data = load();
    data.exported = new Date(Date.now()).toISOString();
    return JSON.stringify(data, null, 1);
  }

  /* Replace the stored progress by the file's; throws (and keeps the stored progress) if bad. */
  function importText(text) {
    if (typeof text !== "string" || text.length > MAX_BYTES) throw new Error("This file is too large to be a Lossbook progress file.");
    var parsed;
    try {
      parsed = JSON.parse(text);
    } catch (error) {
      throw new Error("This file is not JSON, so it is not a Lossbook progress file.");
    }
    var clean = validate(parsed);
    if (!save(clean)) throw new Error("The browser refused to store the progress (storage full or disabled).");
    notify();
    return clean;
  }

  function clear() {
    try {
      window.localStorage.removeItem(KEY);
    } catch (error) { /* nothing stored */ }
    notify();
  }

  function notify() {
    document.dispatchEvent(new CustomEvent("lossbook:progress"));
  }

  function update(part, change) {
    var data = load();
    change(data[part]);
    save(data);
    notify();
  }

  window.LossbookProgress = {KEY: KEY, load: load, save: save, validate: validate, update: update,
                             exportText: exportText, importText: importText, clear: clear};

  /* ---------------------------------------------------------------- export / import controls */

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (name) { node.setAttribute(name, attrs[name]); });
    if (text) node.textContent = text;
    return node;
  }

  function setupTools(root) {
    if (root.getAttribute("data-ready")) return;
    root.setAttribute("data-ready", "1");
    root.textContent = "";
    var summary = el("p", {"class": "lb-progress-tools__summary"});
    var buttons = el("p", {"class": "lb-progress-tools__buttons"});
    var exportButton = el("button", {type: "button", "class": "md-button", "data-action": "export"}, "Export progress");
    var importButton = el("button", {type: "button", "class": "md-button", "data-action": "import"}, "Import progress");
    var clearButton = el("button", {type: "button", "class": "md-button", "data-action": "clear"}, "Clear progress");
    var file = el("input", {type: "file", accept: ".json,application/json", "class": "lb-progress-tools__file",
                            "aria-label": "Progress file to import", hidden: ""});
    var status = el("p", {"class": "lb-progress-tools__status", role: "status", "aria-live": "polite"});
    buttons.appendChild(exportButton);
    buttons.appendChild(importButton);
    buttons.appendChild(clearButton);
    root.appendChild(summary);
    root.appendChild(buttons);
    root.appendChild(file);
    root.appendChild(status);

    function refresh() {
      var data = load();
      var cards = Object.keys(data.review).length;
      var tasks = Object.keys(data.plan).length;
      summary.textContent = "Stored in this browser: " + cards + (cards === 1 ? " card" : " cards") +
        " reviewed, " + tasks + (tasks === 1 ? " plan task" : " plan tasks") + " ticked.";
    }

    function tell(text, bad) {
      status.textContent = text;
      status.className = "lb-progress-tools__status" + (bad ? " lb-progress-tools__status--bad" : "");
    }

    exportButton.addEventListener("click", function () {
      var blob = new Blob([exportText()], {type: "application/json"});
      var link = el("a", {href: URL.createObjectURL(blob), download: "lossbook-progress.json"});
      document.body.appendChild(link);
      link.click();
      setTimeout(function () { URL.revokeObjectURL(link.href); link.remove(); }, 0);
      tell("Exported to lossbook-progress.json.");
    });
    importButton.addEventListener("click", function () { file.click(); });
    file.addEventListener("change", function () {
      var chosen = file.files && file.files[0];
      if (!chosen) return;
      var reader = new FileReader();
      reader.onload = function () {
        try {
          var data = importText(String(reader.result));
          tell("Imported: " + Object.keys(data.review).length + " cards and " + Object.keys(data.plan).length +
               " plan tasks.");
        } catch (error) {
          tell("Not imported. " + error.message + " Your stored progress is unchanged.", true);
        }
        file.value = "";
      };
      reader.onerror = function () { tell("Not imported: the file could not be read.", true); };
      reader.readAsText(chosen);
    });
    clearButton.addEventListener("click", function () {
      if (window.confirm("Clear all progress stored in this browser (review cards and plan)?")) {
        clear();
        tell("Cleared.");
      }
    });
    document.addEventListener("lossbook:progress", function listener() {
      if (!root.isConnected) document.removeEventListener("lossbook:progress", listener);
      else refresh();
    });
    refresh();
  }

  /* ---------------------------------------------------------------- the one-week plan */

  function planDays() {
    var head = document.getElementById("one-week-plan");
    if (!head) return [];
    var days = [];
    for (var node = head.nextElementSibling; node && node.tagName !== "H2"; node = node.nextElementSibling) {
      if (node.tagName === "H3") {
        days.push({head: node, tasks: []});
      } else if (days.length && (node.tagName === "UL" || node.tagName === "OL")) {
        var day = days[days.length - 1];
        Array.prototype.forEach.call(node.children, function (li) {
          if (li.tagName === "LI") day.tasks.push(li);
        });
      }
    }
    return days.filter(function (d) { return d.tasks.length; });
  }

  function title(head) {
    var copy = head.cloneNode(true);
    Array.prototype.forEach.call(copy.querySelectorAll(".headerlink"), function (a) { a.remove(); });
    return copy.textContent.trim();
  }

  function setupPlan() {
    var days = planDays();
    if (!days.length) return;
    var head = document.getElementById("one-week-plan");
    var box = document.getElementById("lb-plan-progress");
    if (!box) {
      box = el("div", {id: "lb-plan-progress", "class": "lb-plan-progress"});
      head.after(box);
    }
    if (box.getAttribute("data-ready")) return;
    box.setAttribute("data-ready", "1");
    box.setAttribute("role", "status");
    box.setAttribute("aria-live", "polite");
    days.forEach(function (day) {
      day.tasks.forEach(function (li, k) {
        var id = day.head.id + ":" + k;
        li.classList.add("lb-plan-task");
        li.setAttribute("data-task", id);
        var input = el("input", {type: "checkbox", "class": "lb-plan-task__box",
                                 "aria-label": "Done: " + li.textContent.trim().slice(0, 120)});
        input.addEventListener("change", function () {
          var ticked = input.checked;
          update("plan", function (plan) {
            if (ticked) plan[id] = true;
            else delete plan[id];
          });
        });
        li.insertBefore(input, li.firstChild);
      });
    });

    function refresh() {
      var plan = load().plan;
      var done = 0;
      var total = 0;
      var current = null;
      days.forEach(function (day) {
        var dayDone = 0;
        day.tasks.forEach(function (li) {
          var ticked = plan[li.getAttribute("data-task")] === true;
          li.querySelector(".lb-plan-task__box").checked = ticked;
          li.classList.toggle("lb-plan-task--done", ticked);
          dayDone += ticked ? 1 : 0;
        });
        done += dayDone;
        total += day.tasks.length;
        day.head.classList.remove("lb-plan-day--current");
        if (current === null && dayDone < day.tasks.length) current = day;
      });
      box.textContent = "";
      var line = el("p", {"class": "lb-plan-progress__line"});
      var strong = el("strong", {}, done + " of " + total + " tasks done");
      line.appendChild(strong);
      if (current) {
        current.head.classList.add("lb-plan-day--current");
        line.appendChild(document.createTextNode(". You are on "));
        var link = el("a", {href: "#" + current.head.id}, title(current.head));
        line.appendChild(link);
        var next = current.tasks.filter(function (li) { return plan[li.getAttribute("data-task")] !== true; })[0];
        if (next) line.appendChild(document.createTextNode(": next, " + next.textContent.trim().replace(/\s+/g, " ").slice(0, 90) +
                                                         (next.textContent.trim().length > 90 ? "\u2026" : "")));
      } else {
        line.appendChild(document.createTextNode(". The week is done: review the cards that are due."));
      }
      var bar = el("progress", {max: String(total), value: String(done), "aria-label": "Plan progress"});
      box.appendChild(bar);
      box.appendChild(line);
    }
    document.addEventListener("lossbook:progress", function listener() {
      if (!box.isConnected) document.removeEventListener("lossbook:progress", listener);
      else refresh();
    });
    refresh();
  }

  function init() {
    var tools = document.getElementById("lb-progress-tools");
    if (tools) setupTools(tools);
    setupPlan();
  }

  if (window.document$ && typeof window.document$.subscribe === "function") window.document$.subscribe(init);
  else if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
})();
