/* eBPF Hub search: results as you type, from the generator's own small index.
 *
 * The index is split by what each moment needs (generator/search.py):
 *   api/v1/search/index.json    names and filter flags of every package: loaded at once
 *   api/v1/search/terms/X.json  terms starting with X and their postings: on first use
 *   api/v1/search/docs/N.json   summaries of packages N*block..: for the results shown
 * Every query word must match a term by prefix; matches in the name rank above
 * keywords, which rank above the summary. Results render as soon as the names
 * are known; summaries fill in when their block arrives. Text is inserted with
 * textContent only. window.hubSearch.timings records how long each answer took.
 */
(function () {
  "use strict";

  var meta = document.querySelector('meta[name="hub-base"]');
  var base = (meta ? meta.getAttribute("content") : ".").replace(/\/$/, "") || ".";
  var searchPage = document.getElementById("hub-search-status") !== null;
  var EXACT = [100, 40, 20, 8];
  var PREFIX = [60, 25, 12, 4];
  var WORD = /[a-z0-9][a-z0-9+._-]*[a-z0-9+]|[a-z0-9]/g;
  var STOP = {};
  ("a an and are as at be by for from has in into is it its of on or that the this to " +
   "was which with").split(" ").forEach(function (w) { STOP[w] = true; });
  var head = null;
  var shards = {};
  var blocks = {};
  var state = window.hubSearch = { timings: [], fetched: [] };

  function url(path) { return base + "/" + path; }

  function fetchJSON(path) {
    state.fetched.push(path);
    return fetch(url("api/v1/search/" + path)).then(function (response) {
      if (!response.ok) { throw new Error(path + ": HTTP " + response.status); }
      return response.json();
    });
  }

  function loadHead() {
    if (head === null) {
      head = fetchJSON("index.json").then(function (data) {
        data.bonus = new Float64Array(data.count);  // popular packages rank a little higher
        data.popular.forEach(function (id, i) { data.bonus[id] = 3 - i / 100; });
        data.shardSet = new Set(data.shards);
        return data;
      });
    }
    return head;
  }

  function shardKey(word) {
    var c = word.charAt(0);
    return (c >= "a" && c <= "z") || (c >= "0" && c <= "9") ? c : "_";
  }

  // Once someone shows intent to search (focus, a query), fetch the other shards one by
  // one while the page is idle, so that later first letters answer without a fetch.
  var prefetching = false;
  function prefetch(data) {
    if (prefetching || (navigator.connection && navigator.connection.saveData)) { return; }
    prefetching = true;
    var keys = data.shards.slice();
    var idle = window.requestIdleCallback || function (f) { return setTimeout(f, 50); };
    (function next() {
      var key = keys.shift();
      if (key === undefined) { return; }
      idle(function () {
        loadShard(data, key).then(function () {
          find(data, [key], { kind: -1 });  // warm the engine's compiled code, off the input path
          next();
        }, next);
      });
    })();
  }

  function loadShard(data, key) {
    if (!data.shardSet.has(key) && !shards[key]) {
      shards[key] = Promise.resolve({ terms: [], postings: [] });
      shards[key].ready = { terms: [], postings: [] };
    }
    if (!shards[key]) {
      shards[key] = fetchJSON("terms/" + key + ".json").then(function (shard) {
        shards[key].ready = shard;
        return shard;
      });
    }
    return shards[key];
  }

  function loadBlock(number) {
    if (!blocks[number]) {
      blocks[number] = fetchJSON("docs/" + number + ".json").then(function (block) {
        blocks[number].ready = block;
        return block;
      });
    }
    return blocks[number];
  }

  function words(text) {
    return (text.toLowerCase().match(WORD) || []).filter(function (w) { return !STOP[w]; });
  }

  function lowerBound(terms, word) {
    var lo = 0, hi = terms.length;
    while (lo < hi) {
      var mid = (lo + hi) >> 1;
      if (terms[mid] < word) { lo = mid + 1; } else { hi = mid; }
    }
    return lo;
  }

  function filterOf(form) {
    var wanted = { mask: 0, kind: -1 };
    Array.prototype.forEach.call(form.querySelectorAll("select.hub-filter"), function (select) {
      var value = select.value;
      if (!value) { return; }
      var name = select.getAttribute("data-filter");
      if (name === "kind") { wanted.kind = ["bpf", "bundle", "image"].indexOf(value); }
      if (name === "category") { wanted.category = value; }
      if (name === "arch") { wanted.arch = value; }
    });
    return wanted;
  }

  function matcher(data, wanted) {
    var mask = 0;
    if (wanted.category) { mask |= 1 << (2 + data.categories.indexOf(wanted.category)); }
    var arch = wanted.arch ? 1 << (12 + data.architectures.indexOf(wanted.arch)) : 0;
    return function (flags) {
      return (wanted.kind < 0 || (flags & 3) === wanted.kind) &&
        (flags & mask) === mask && (arch === 0 || (flags & arch) !== 0);
    };
  }

  // Score every package against the words; shards must be loaded already. Typed arrays
  // sized once: a one-letter query touches thousands of postings and must stay fast.
  var total = null, count = null, best = null;
  function find(data, list, wanted) {
    var n = data.count;
    if (total === null) {
      total = new Float64Array(n); count = new Uint8Array(n); best = new Float64Array(n);
    }
    var allowed = matcher(data, wanted);
    var ids = [];
    var bonus = data.bonus;
    if (list.length === 0) {
      for (var d = 0; d < n; d++) { if (allowed(data.flags[d])) { ids.push(d); } }
      total.fill(0);
    } else {
      total.fill(0); count.fill(0);
      for (var index = 0; index < list.length; index++) {
        var word = list[index];
        var shard = shards[shardKey(word)];
        shard = shard && shard.ready ? shard.ready : { terms: [], postings: [] };
        var touched = [];
        for (var t = lowerBound(shard.terms, word); t < shard.terms.length; t++) {
          var term = shard.terms[t];
          if (term.lastIndexOf(word, 0) !== 0) { break; }
          var weights = term.length === word.length ? EXACT : PREFIX;
          var postings = shard.postings[t];
          for (var p = 0; p < postings.length; p++) {
            var doc = postings[p] >> 2, score = weights[postings[p] & 3];
            if (count[doc] !== index) { continue; }
            if (best[doc] === 0) { touched.push(doc); }
            if (best[doc] < score) { best[doc] = score; }
          }
        }
        for (var k = 0; k < touched.length; k++) {
          var hit = touched[k];
          count[hit] = index + 1; total[hit] += best[hit]; best[hit] = 0;
        }
      }
      for (var i = 0; i < n; i++) {
        if (count[i] === list.length && allowed(data.flags[i])) { ids.push(i); }
      }
    }
    for (var j = 0; j < ids.length; j++) { total[ids[j]] += bonus[ids[j]]; }
    var names = data.names;
    ids.sort(function (a, b) {
      return total[b] - total[a] || names[a].length - names[b].length || a - b;
    });
    return ids;
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }

  function render(list, data, ids, limit, text) {
    var kinds = data.kinds;
    list.textContent = "";
    ids.slice(0, limit).forEach(function (id) {
      var name = data.names[id];
      var item = element("li");
      var link = element("a", "hub-result", name);
      link.href = url("packages/" + encodeURIComponent(name) + "/");
      item.appendChild(link);
      item.appendChild(element("span", "hub-kind", kinds[data.flags[id] & 3]));
      var version = element("span", "hub-version");
      var summary = element("span", "hub-summary");
      item.appendChild(version);
      item.appendChild(summary);
      list.appendChild(item);
      var number = Math.floor(id / data.block);
      var fill = function (block) {
        var doc = block.docs[id - block.first];
        if (doc) { summary.textContent = doc[0]; version.textContent = doc[1]; }
      };
      var pending = loadBlock(number);
      if (pending.ready) { fill(pending.ready); } else { pending.then(fill, function () {}); }
    });
    if (ids.length > limit) {
      var more = element("li");
      var all = element("a", "hub-more", "all " + ids.length + " results");
      all.href = url("search/") + "?q=" + encodeURIComponent(text);
      more.appendChild(all);
      list.appendChild(more);
    }
  }

  function status(text) {
    var node = document.getElementById("hub-search-status");
    if (node) { node.textContent = text; }
  }

  function attach(form) {
    var input = form.querySelector("input[name=q]");
    var list = form.nextElementSibling;
    if (!input || !list || !list.classList.contains("hub-results")) { return; }
    var limit = searchPage ? 50 : 8;
    var ticket = 0;

    function show(data, text, started, mine) {
      if (mine !== ticket) { return; }  // a later keystroke won
      var ids = find(data, words(text), filterOf(form));
      render(list, data, ids, limit, text);
      state.timings.push({ query: text, ms: performance.now() - started });
      prefetch(data);
      if (state.firstResultsAt === undefined) {  // for bench/hub_search.py
        state.firstResultsAt = performance.now();
        state.firstResources = performance.getEntriesByType("resource").map(function (e) {
          return e.name;
        });
      }
      list.setAttribute("data-query", text);
      status(ids.length === 0 ? "No package matches \u201c" + text + "\u201d." :
        ids.length + (ids.length === 1 ? " package matches." : " packages match."));
    }

    function update() {
      var started = performance.now();
      var text = input.value.trim();
      var mine = ++ticket;
      var wanted = filterOf(form);
      var filtered = wanted.kind >= 0 || wanted.category || wanted.arch;
      if (searchPage) {
        var params = new URLSearchParams();
        if (text) { params.set("q", text); }
        Array.prototype.forEach.call(form.querySelectorAll("select.hub-filter"), function (s) {
          if (s.value) { params.set(s.name, s.value); }
        });
        history.replaceState(null, "", "?" + params.toString());
      }
      if (!text && !filtered) {
        list.textContent = ""; list.setAttribute("data-query", ""); status(""); return;
      }
      loadHead().then(function (data) {
        var needed = words(text).map(function (w) { return loadShard(data, shardKey(w)); });
        if (needed.every(function (p) { return p.ready; })) {
          show(data, text, started, mine);  // everything at hand: answer in this task
          return;
        }
        return Promise.all(needed).then(function () { show(data, text, started, mine); });
      }).catch(function (error) {
        status("Search is unavailable: " + error.message);
      });
    }

    input.addEventListener("focus", function () { loadHead().then(prefetch, function () {}); });
    if (document.activeElement === input) {  // autofocus: focused before this listener
      loadHead().then(prefetch, function () {});
    }
    input.addEventListener("input", update);
    Array.prototype.forEach.call(form.querySelectorAll("select.hub-filter"), function (s) {
      s.addEventListener("change", update);
    });
    if (searchPage) {
      var params = new URLSearchParams(window.location.search);
      Array.prototype.forEach.call(form.querySelectorAll("select.hub-filter"), function (s) {
        if (params.get(s.name)) { s.value = params.get(s.name); }
      });
      if (params.get("q")) { input.value = params.get("q"); }
      loadHead().catch(function () {});
      update();
    }
  }

  function start() {
    Array.prototype.forEach.call(document.querySelectorAll("form.hub-search"), attach);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
