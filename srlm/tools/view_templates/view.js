// The page's filters: a prompt is shown when it has every checked flag and its longest
// answer is at least the given length. The filters live in the address's #fragment
// (e.g. #pair,top,min=200), so a link can open a page filtered and the links to other pages
// keep the filter. With the iteration's flags.js loaded, the matches on every page are
// counted and linked. Reads only data-* attributes and numbers, never model text.
(function () {
  "use strict";
  var NAMES = ["pair", "tie", "unparsed", "top"];
  var form = document.getElementById("filters");
  var sections = Array.prototype.slice.call(document.querySelectorAll("section.prompt"));
  var shown = document.getElementById("shown");
  var elsewhere = document.getElementById("elsewhere");
  var data = window.SRLM_FLAGS;

  function wanted() {
    return NAMES.filter(function (name) { return form.elements[name].checked; });
  }
  function minChars() {
    return parseInt(form.elements.min_chars.value, 10) || 0;
  }
  function fragment() {
    var parts = wanted();
    if (minChars() > 0) { parts.push("min=" + minChars()); }
    return parts.join(",");
  }
  function readFragment() {
    var parts = decodeURIComponent(window.location.hash.replace(/^#/, "")).split(",");
    NAMES.forEach(function (name) { form.elements[name].checked = parts.indexOf(name) >= 0; });
    parts.forEach(function (part) {
      if (part.indexOf("min=") === 0) { form.elements.min_chars.value = parseInt(part.slice(4), 10) || 0; }
    });
  }
  function matchesElsewhere(names, min) {
    var bits = names.map(function (name) { return 1 << data.flags.indexOf(name); });
    var perPage = data.pages.map(function () { return 0; });
    var total = 0;
    data.rows.forEach(function (row) {
      var ok = row[2] >= min && bits.every(function (bit) { return (row[1] & bit) !== 0; });
      if (ok) { perPage[row[0]] += 1; total += 1; }
    });
    return { perPage: perPage, total: total };
  }
  function showElsewhere(names, min) {
    while (elsewhere.firstChild) { elsewhere.removeChild(elsewhere.firstChild); }
    if (!data) { return; }
    var found = matchesElsewhere(names, min);
    var here = window.location.pathname.split("/").pop();
    elsewhere.appendChild(document.createTextNode(
      found.total + " of " + data.rows.length + " prompts of the iteration match" +
      (found.total ? ": " : ".")));
    found.perPage.forEach(function (count, index) {
      if (!count) { return; }
      var name = data.pages[index];
      var label = "page " + (index + 1) + " (" + count + ")";
      if (name === here) {
        var b = document.createElement("b");
        b.textContent = label;
        elsewhere.appendChild(b);
      } else {
        var a = document.createElement("a");
        a.href = name + "#" + fragment();
        a.textContent = label;
        elsewhere.appendChild(a);
      }
      elsewhere.appendChild(document.createTextNode(" "));
    });
  }
  function apply() {
    var names = wanted();
    var min = minChars();
    var count = 0;
    sections.forEach(function (section) {
      var ok = names.every(function (name) { return section.dataset[name] === "1"; }) &&
        parseInt(section.dataset.maxChars, 10) >= min;
      section.hidden = !ok;
      if (ok) { count += 1; }
    });
    shown.textContent = count + " of " + sections.length + " prompts on this page shown";
    showElsewhere(names, min);
    if (window.history && window.history.replaceState) {
      window.history.replaceState(null, "", "#" + fragment());
    }
  }
  readFragment();
  form.addEventListener("change", apply);
  form.addEventListener("input", apply);
  window.addEventListener("hashchange", function () { readFragment(); apply(); });
  apply();
})();
