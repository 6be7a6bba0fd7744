"use strict";
// npsdiag report: search, filter and sort the incidents and the affected users.
// The page is complete without this script: it only shows the controls (hidden in the
// markup), hides what does not match and reorders what is already there. It reads no
// data but the page's own, builds no HTML from text, and loads nothing.
(function () {
  function words(value) {
    return value.toLowerCase().split(/\s+/).filter(function (word) { return word !== ""; });
  }
  function matches(element, query) {
    var text = element.textContent.toLowerCase();
    return query.every(function (word) { return text.indexOf(word) !== -1; });
  }
  function sorter(key, numeric, descending) {
    return function (a, b) {
      var x = a.getAttribute(key) || "", y = b.getAttribute(key) || "";
      var order = numeric ? Number(x) - Number(y) : x.localeCompare(y);
      if (order === 0) {
        order = Number(a.getAttribute("data-order")) - Number(b.getAttribute("data-order"));
        return order;
      }
      return descending ? -order : order;
    };
  }
  var sorts = {
    time: sorter("data-order", true, false),
    user: sorter("data-user", false, false),
    outcome: sorter("data-outcome", false, false),
    failed: sorter("data-failed", true, true),
    name: sorter("data-user", false, false),
    first: sorter("data-first", false, false)
  };
  function setUp(box) {
    var list = document.getElementById(box.getAttribute("data-list"));
    if (!list) { return; }
    var items = Array.prototype.slice.call(list.querySelectorAll("[data-order]"));
    var search = box.querySelector("input[type=search]");
    var outcome = box.querySelector("select[name=outcome]");
    var problem = box.querySelector("select[name=problem]");
    var sort = box.querySelector("select[name=sort]");
    var count = box.querySelector("output");
    function update() {
      var query = words(search ? search.value : "");
      var wantOutcome = outcome ? outcome.value : "";
      var wantProblem = problem ? problem.value : "";
      var shown = 0;
      items.forEach(function (item) {
        var ranks = (item.getAttribute("data-problems") || "").split(" ");
        var visible = matches(item, query) &&
          (wantOutcome === "" || item.getAttribute("data-outcome") === wantOutcome) &&
          (wantProblem === "" || ranks.indexOf(wantProblem) !== -1 ||
            (wantProblem === "none" && ranks.join("") === ""));
        item.hidden = !visible;
        if (visible) { shown += 1; }
      });
      if (sort && sorts[sort.value]) {
        items.slice().sort(sorts[sort.value]).forEach(function (item) { list.appendChild(item); });
      }
      if (count) {
        count.textContent = "Showing " + shown + " of " + items.length + " listed";
      }
    }
    [search, outcome, problem, sort].forEach(function (control) {
      if (control) { control.addEventListener("input", update); }
    });
    box.hidden = false;
    update();
  }
  Array.prototype.forEach.call(document.querySelectorAll(".filters[data-list]"), setUp);
})();
