/* eBPF Hub "works on my kernel": the search page keeps only packages proven on a kernel.
 *
 * The rule is ecli's (`ecli search --kernel RELEASE`): a package stays when its newest
 * usable version passed the hub's test on a kernel of this architecture no newer than
 * RELEASE. The generator evaluates it down to one number list per package and
 * architecture, the oldest kernel it passed on (api/v1/search/kernels.json, written by
 * generator/kernelfilter.py, fetched the first time the filter is used); this file only
 * reads the typed release's numbers with the pattern sent there and compares the two
 * lists as Python compares tuples. The filter is a predicate handed to hub-search.js
 * (window.hubSearch.filters.kernel), which applies it with its own filters.
 * The address keeps it (?kernel=6.1.0-50-cloud-amd64&machine=aarch64).
 */
(function () {
  "use strict";

  var state = window.hubSearch = window.hubSearch || {};
  state.filters = state.filters || {};
  var meta = document.querySelector('meta[name="hub-base"]');
  var base = (meta ? meta.getAttribute("content") : ".").replace(/\/$/, "") || ".";
  var pending = null;

  function load() {
    if (pending === null) {
      pending = new Promise(function (resolve, reject) {
        var request = new XMLHttpRequest();
        request.open("GET", base + "/api/v1/search/kernels.json");
        request.onload = function () {
          if (request.status === 200) { resolve(JSON.parse(request.responseText)); return; }
          reject(new Error("kernels.json: HTTP " + request.status));
        };
        request.onerror = function () { reject(new Error("kernels.json: network error")); };
        request.send();
      });
    }
    return pending;
  }

  // ecli.kernel.system.parse_release: the numbers at the start ("6.1.0-50-..." -> 6,1,0).
  function numbers(pattern, text) {
    var found = new RegExp("^(?:" + pattern + ")").exec(text.trim());
    return found ? found[0].split(".").map(Number) : [];
  }

  // Python's tuple order: the first number that differs, else the shorter list first.
  function compare(a, b) {
    for (var i = 0; i < a.length && i < b.length; i++) {
      if (a[i] !== b[i]) { return a[i] - b[i]; }
    }
    return a.length - b.length;
  }

  function refresh() { if (state.refresh) { state.refresh(); } }

  function attach(box) {
    var release = box.querySelector("input.hub-kernel-release");
    var machine = box.querySelector("select.hub-kernel-machine");
    var list = box.querySelector("datalist");
    var note = box.querySelector(".hub-kernel-note");
    var ticket = 0;

    function remember() {
      var params = new URLSearchParams(window.location.search);
      var text = release.value.trim();
      if (text) {
        params.set("kernel", text); params.set("machine", machine.value);
      } else {
        params.delete("kernel"); params.delete("machine");
      }
      history.replaceState(null, "", "?" + params.toString());
    }

    function offer(data) {  // the kernels the hub tested on this architecture, to pick from
      list.textContent = "";
      data.kernels.forEach(function (k) {
        if (k.arch !== machine.value) { return; }
        var option = document.createElement("option");
        option.value = k.kernel;
        list.appendChild(option);
      });
    }

    function apply() {
      var mine = ++ticket;
      var text = release.value.trim();
      remember();
      if (!text) {
        state.filters.kernel = null;
        note.textContent = "";
        refresh();
        return;
      }
      load().then(function (data) {
        if (mine !== ticket) { return; }  // typed on meanwhile
        offer(data);
        var wanted = numbers(data.release_pattern, text);
        var proven = data.proven[machine.value] || {};
        var kept = new Set(Object.keys(proven).filter(function (name) {
          return compare(proven[name], wanted) <= 0;
        }));
        state.filters.kernel = function (id, head) { return kept.has(head.names[id]); };
        note.textContent = "proven by the hub on a " + machine.value + " kernel no newer than " +
          (wanted.length ? wanted.join(".") : text);
        refresh();
      }, function (error) {
        if (mine === ticket) { note.textContent = "Kernel filter unavailable: " + error.message; }
      });
    }

    var params = new URLSearchParams(window.location.search);
    if (params.get("machine")) { machine.value = params.get("machine"); }
    if (params.get("kernel")) { release.value = params.get("kernel"); }
    release.addEventListener("input", apply);
    machine.addEventListener("change", apply);
    release.addEventListener("focus", function () { load().then(offer, function () {}); });
    if (release.value.trim()) { apply(); }
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll(".hub-kernel-filter"), attach);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
