/* eBPF Hub search: results as you type, from the generator's own small index.
 *
 * The index is split by what each moment needs (generator/search.py):
 *   api/v1/search/index.json    names and filter flags of every package, the ranking's
 *                               weights, and the answer to every one-character query
 *   api/v1/search/terms/X.json  terms starting with X and their postings
 *   api/v1/search/docs/N.json   summaries of packages N*block..: for the results shown
 * Every query word (stop words dropped, the head's list) must match a term by prefix,
 * or its stem must ("connections", "queries", "killed"), or begin with a part of a
 * name ("connections": tcpconnect's "connect"); matches in the name rank above
 * keywords, which rank above the summary (weights from the head: the generator owns
 * the ranking, this file applies it). No keystroke waits for a fetch the page could
 * have made earlier: a first character typed before its shard has arrived is answered
 * from the head, and the shards are requested two at a time (a typed character's at
 * once) as soon as the search page has shown its first results or has loaded,
 * elsewhere once someone shows intent (focus or pointer on a search box), and parsed
 * when idle or when a query needs it. Only the first page of results is drawn, into
 * reused nodes; summaries fill in when their block arrives. Text is inserted with textContent only.
 * window.hubSearch records how long each answer took (bench/hub_search.py) and offers
 * answer(text) for tests: the full ranking computed from the shards. Other scripts add
 * filters to window.hubSearch.filters and call refresh() (hub-kernel-filter.js).
 */
(function () {
  "use strict";

  var meta = document.querySelector('meta[name="hub-base"]');
  var base = (meta ? meta.getAttribute("content") : ".").replace(/\/$/, "") || ".";
  var searchPage = false;  // known once the document is parsed (start)
  var PAGE = 8;  // results drawn at first; "show more" adds as many
  var WORD = /[a-z0-9][a-z0-9+._-]*[a-z0-9+]|[a-z0-9]/g;
  var EMPTY = { terms: [], postings: [] };
  var head = null;
  var shards = {};
  var blocks = {};
  // Another script may have made it first (hub-kernel-filter.js): it adds to `filters`,
  // each a predicate (id, head) -> whether that package may be shown, or null.
  var state = window.hubSearch = window.hubSearch || {};
  state.timings = []; state.fetched = []; state.filters = state.filters || {};
  var updaters = [];

  function url(path) { return base + "/" + path; }

  // XMLHttpRequest rather than fetch: its whole body is handed over in one task, where
  // a fetch body is read through a stream, one task per chunk, each queued behind
  // whatever the page is busy with while it loads (measured: the head came 20-40 ms
  // later that way, after the load event instead of before it).
  function fetchBody(path) {
    state.fetched.push(path);
    return new Promise(function (resolve, reject) {
      var request = new XMLHttpRequest();
      request.open("GET", url("api/v1/search/" + path));
      request.onload = function () {
        if (request.status === 200) { resolve(request.responseText); return; }
        reject(new Error(path + ": HTTP " + request.status));
      };
      request.onerror = function () { reject(new Error(path + ": network error")); };
      request.send();
    });
  }

  function fetchJSON(path) { return fetchBody(path).then(JSON.parse); }

  function loadHead() {
    if (head === null) {
      head = fetchJSON("index.json").then(function (data) {
        var ranking = data.ranking;
        data.bonus = new Float64Array(data.count);  // popular packages rank a little higher
        data.popular.forEach(function (id, i) {
          data.bonus[id] = ranking.popular_bonus - i / ranking.popular_step;
        });
        data.shardSet = new Set(data.shards);
        data.stop = new Set(data.stop_words);
        head.ready = data;
        return data;
      });
    }
    return head;
  }

  function shardKey(word) {
    var c = word.charAt(0);
    return (c >= "a" && c <= "z") || (c >= "0" && c <= "9") ? c : "_";
  }

  // A shard's text, requested once (by a query, or by prefetch).
  var bodies = {};
  function shardBody(key) {
    if (!bodies[key]) { bodies[key] = fetchBody("terms/" + key + ".json"); }
    return bodies[key];
  }

  // A shard parsed, for a query (its text requested now if it was not yet).
  function loadShard(data, key) {
    if (!shards[key]) {
      if (!data.shardSet.has(key)) {
        shards[key] = Promise.resolve(EMPTY);
        shards[key].ready = EMPTY;
      } else {
        shards[key] = shardBody(key).then(function (text) {
          var shard = JSON.parse(text);
          shards[key].ready = shard;
          return shard;
        });
      }
    }
    return shards[key];
  }

  // Request the shards' text in the head's order (those matching most packages first),
  // two at a time, so that a later word's first character mostly finds its shard here
  // and only parses it (a typed character's shard not requested yet is requested at
  // once by loadShard). Each text is parsed in
  // an idle moment and the engine run on it, to warm its compiled code off the input
  // path. Requesting them all at once would flood the page with responses to read
  // while someone types.
  var prefetching = false;
  function prefetch(data) {
    if (prefetching || (navigator.connection && navigator.connection.saveData)) { return; }
    prefetching = true;
    var keys = data.shards.slice();
    var idle = window.requestIdleCallback ?
      function (f) { window.requestIdleCallback(f); } :  // no deadline: a query parses its own
      function (f) { setTimeout(f, 10); };
    function next() {
      while (keys.length && shards[keys[0]]) { keys.shift(); }  // a query loaded it
      var key = keys.shift();
      if (key === undefined) { return; }
      var body = bodies[key] || shardBody(key);
      body.then(function () {
        idle(function () {
          loadShard(data, key).then(function () {
            find(data, [key], { kind: "" });
            next();
          }, next);
        });
      }, next);
    }
    next(); next();
  }

  function words(data, text) {
    return (text.toLowerCase().match(WORD) || []).filter(function (w) {
      return !data.stop.has(w);
    });
  }

  // The word a plural or a past tense comes from: ecli/packages/search_rank.py's stem().
  function stem(word) {
    if (word.length > 4 && word.slice(-3) === "ies") { return word.slice(0, -3) + "y"; }
    if (word.length > 5 && word.slice(-2) === "ed") { return word.slice(0, -2); }
    return word.length > 4 && word.slice(-1) === "s" ? word.slice(0, -1) : word;
  }

  function commonPrefix(a, b) {
    var i = 0;
    while (i < a.length && i < b.length && a.charAt(i) === b.charAt(i)) { i++; }
    return a.slice(0, i);
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
    var wanted = { kind: "" };
    Array.prototype.forEach.call(form.querySelectorAll("select.hub-filter"), function (select) {
      var value = select.value;
      if (!value) { return; }
      var name = select.getAttribute("data-filter");
      if (name === "kind") { wanted.kind = value; }
      if (name === "category") { wanted.category = value; }
      if (name === "arch") { wanted.arch = value; }
    });
    wanted.extra = Object.keys(state.filters).map(function (key) { return state.filters[key]; })
      .filter(Boolean);
    return wanted;
  }

  function filtered(wanted) {
    return !!wanted.kind || !!wanted.category || !!wanted.arch ||
      !!(wanted.extra && wanted.extra.length);
  }

  function matcher(data, wanted) {
    // flags: the kind's index in the low kind_bits, then one bit per category, then per architecture
    var kindMask = (1 << data.kind_bits) - 1;
    var kind = wanted.kind ? data.kinds.indexOf(wanted.kind) : -1;
    var mask = 0;
    if (wanted.category) { mask |= 1 << (data.kind_bits + data.categories.indexOf(wanted.category)); }
    var arch = wanted.arch ? 1 << (data.kind_bits + data.categories.length +
      data.architectures.indexOf(wanted.arch)) : 0;
    var extra = wanted.extra || [];
    return function (flags, id) {
      if (!((kind < 0 || (flags & kindMask) === kind) &&
            (flags & mask) === mask && (arch === 0 || (flags & arch) !== 0))) { return false; }
      for (var e = 0; e < extra.length; e++) { if (!extra[e](id, data)) { return false; } }
      return true;
    };
  }

  // Score every package against the words; their shards must be loaded. A package's
  // score is, per word, its best matching term (ranking.exact when the term is the
  // word, else ranking.prefix, by field), summed, plus its popularity bonus; ties go
  // to the shorter name, then the lower id: generator/search.py's rank() for one word.
  // Typed arrays sized once: a one-letter query touches thousands of postings.
  var total = null, count = null, best = null;
  function find(data, list, wanted) {
    var n = data.count;
    if (total === null) {
      total = new Float64Array(n); count = new Uint8Array(n); best = new Float64Array(n);
    }
    var allowed = matcher(data, wanted);
    var ids = [];
    var bonus = data.bonus;
    total.fill(0);
    if (list.length === 0) {
      for (var d = 0; d < n; d++) { if (allowed(data.flags[d], d)) { ids.push(d); } }
    } else {
      count.fill(0);
      for (var index = 0; index < list.length; index++) {
        var word = list[index];
        var shard = shards[shardKey(word)];
        shard = shard && shard.ready ? shard.ready : EMPTY;
        var touched = [];
        var plain = stem(word), common = commonPrefix(word, plain);
        var score = function (postings, weights, fields) {
          for (var p = 0; p < postings.length; p++) {
            var doc = postings[p] >> 2, field = postings[p] & 3;
            if (count[doc] !== index || field > fields) { continue; }
            if (best[doc] === 0) { touched.push(doc); }
            if (best[doc] < weights[field]) { best[doc] = weights[field]; }
          }
        };
        for (var t = lowerBound(shard.terms, common); t < shard.terms.length; t++) {
          var term = shard.terms[t];
          if (term.lastIndexOf(common, 0) !== 0) { break; }
          if (term.lastIndexOf(word, 0) !== 0 && term.lastIndexOf(plain, 0) !== 0) { continue; }
          score(shard.postings[t], term === word || term === plain ? data.ranking.exact :
            data.ranking.prefix, 3);
        }
        for (var length = data.ranking.min_part; length < word.length; length++) {
          var part = word.slice(0, length), at = lowerBound(shard.terms, part);
          if (shard.terms[at] === part) { score(shard.postings[at], data.ranking.prefix, 1); }
        }
        for (var k = 0; k < touched.length; k++) {
          var hit = touched[k];
          count[hit] = index + 1; total[hit] += best[hit]; best[hit] = 0;
        }
      }
      for (var i = 0; i < n; i++) {
        if (count[i] === list.length && allowed(data.flags[i], i)) { ids.push(i); }
      }
    }
    for (var j = 0; j < ids.length; j++) { total[ids[j]] += bonus[ids[j]]; }
    var names = data.names;
    ids.sort(function (a, b) {
      return total[b] - total[a] || names[a].length - names[b].length || a - b;
    });
    return ids;
  }

  // Typos of a package's name, tried only when the words as typed match nothing:
  // ecli search's rule (ecli/packages/search_rank.py, ecli/suggest.py): a word of five
  // letters or more within an edit distance of a third of its length (insertions,
  // deletions, substitutions, a swap of neighbours) of the name. Every other word must
  // still match; the nearest names first, then the shorter. The head has every name.
  function typos(data, list, wanted) {
    var allowed = matcher(data, wanted);
    var matched = list.map(function (w) { return new Set(find(data, [w], wanted)); });
    var hits = [], distance = {};
    data.names.forEach(function (name, d) {
      if (!allowed(data.flags[d])) { return; }
      var near = Infinity;
      var all = list.every(function (w, i) {
        if (matched[i].has(d)) { return true; }
        var found = typoDistance(w, name);
        if (found < near) { near = found; }
        return found < Infinity;
      });
      if (all && near < Infinity) { hits.push(d); distance[d] = near; }
    });
    return hits.sort(function (a, b) {
      return distance[a] - distance[b] || data.names[a].length - data.names[b].length || a - b;
    });
  }

  function typoDistance(word, name) {
    var limit = Math.max(1, Math.floor(word.length / 3));
    if (word.length < 5 || Math.abs(word.length - name.length) > limit) { return Infinity; }
    var letters = new Set(word), others = new Set(name), differ = 0;
    letters.forEach(function (c) { if (!others.has(c)) { differ++; } });
    others.forEach(function (c) { if (!letters.has(c)) { differ++; } });
    if (differ > 2 * limit) { return Infinity; }
    var before = null, row = [];
    for (var j = 0; j <= name.length; j++) { row.push(j); }
    for (var i = 1; i <= word.length; i++) {
      var current = [i], low = i;
      for (j = 1; j <= name.length; j++) {
        var cost = word.charAt(i - 1) === name.charAt(j - 1) ? 0 : 1;
        var value = Math.min(row[j] + 1, current[j - 1] + 1, row[j - 1] + cost);
        if (before && i > 1 && j > 1 && word.charAt(i - 1) === name.charAt(j - 2) &&
            word.charAt(i - 2) === name.charAt(j - 1)) {
          value = Math.min(value, before[j - 2] + 1);
        }
        current.push(value);
        if (value < low) { low = value; }
      }
      if (low > limit) { return Infinity; }
      before = row; row = current;
    }
    return row[name.length] <= limit ? row[name.length] : Infinity;
  }

  // A one-character query before its shard has arrived: the head holds the first ids
  // of its answer. Unfiltered, that is the whole answer for the first page. Filtered,
  // the ids that pass are the first ones of the filtered answer (filtering keeps the
  // order), but maybe not all of them: shown at once, completed when the shard comes.
  function fromHead(data, list, wanted, shown) {
    var first = list.length === 1 && list[0].length === 1 ? data.first[list[0]] : null;
    if (!first) { return null; }
    var allowed = matcher(data, wanted);
    var ids = first.top.filter(function (id) { return allowed(data.flags[id], id); });
    var complete = !filtered(wanted) && first.top.length >= Math.min(shown, first.count);
    return { ids: ids, total: complete ? first.count : null, complete: complete };
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
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

  // One result row, made once and reused for whatever id it shows next.
  function row() {
    var item = { id: -1, li: element("li"), link: element("a", "hub-result"),
                 kind: element("span", "hub-kind"), version: element("span", "hub-version"),
                 summary: element("span", "hub-summary") };
    item.li.appendChild(item.link); item.li.appendChild(item.kind);
    item.li.appendChild(item.version); item.li.appendChild(item.summary);
    return item;
  }

  function fill(item, block) {
    var doc = block.docs[item.id - block.first];
    if (doc) { item.summary.textContent = doc[0]; item.version.textContent = doc[1]; }
  }

  function setRow(item, data, id, later) {
    if (item.id === id) { return; }
    var name = data.names[id];
    item.id = id;
    item.link.textContent = name;
    item.link.href = url("packages/" + encodeURIComponent(name) + "/");
    item.kind.textContent = data.kinds[data.flags[id] & ((1 << data.kind_bits) - 1)];
    var pending = blocks[Math.floor(id / data.block)];
    if (pending && pending.ready) { fill(item, pending.ready); return; }
    item.summary.textContent = ""; item.version.textContent = "";
    later.push(item);
  }

  // Draw the first `view.shown` ids into the pooled rows; summaries are fetched after
  // this task, so that the names are on screen before any request is made.
  function render(view, data, ids, total, text) {
    var shown = Math.min(ids.length, view.shown);
    var later = [];
    if (view.more.parentNode) { view.list.removeChild(view.more); }
    for (var i = 0; i < shown; i++) {
      var item = view.rows[i] || (view.rows[i] = row());
      setRow(item, data, ids[i], later);
      if (!item.li.parentNode) { view.list.appendChild(item.li); }
    }
    for (var j = shown; j < view.rows.length && view.rows[j].li.parentNode; j++) {
      view.list.removeChild(view.rows[j].li);
    }
    if (total !== null && total > shown) {
      view.moreLink.textContent = searchPage ? "show more (" + total + " results)" :
        "all " + total + " results";
      view.moreLink.href = url("search/") + "?q=" + encodeURIComponent(text);
      view.list.appendChild(view.more);
    }
    if (later.length) {
      setTimeout(function () {
        later.forEach(function (item) {
          var id = item.id;
          loadBlock(Math.floor(id / data.block)).then(function (block) {
            if (item.id === id) { fill(item, block); }
          }, function () {});
        });
      }, 0);
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
    var view = { list: list, rows: [], shown: PAGE, more: element("li", "hub-more-item"),
                 moreLink: element("a", "hub-more") };
    view.more.appendChild(view.moreLink);
    var ticket = 0;
    var lastText = null;

    function show(data, text, answer, started, from) {
      render(view, data, answer.ids, answer.total, text);
      if (!answer.complete) {
        list.setAttribute("data-pending", text);
        status("Searching\u2026");
        return;
      }
      list.removeAttribute("data-pending");
      var entry = { query: text, ms: performance.now() - started, from: from };
      state.timings.push(entry);
      requestAnimationFrame(function () {  // the next frame is painted once this task ends
        setTimeout(function () { entry.painted = performance.now() - started; }, 0);
      });
      if (state.firstResultsAt === undefined) {  // for bench/hub_search.py
        state.firstResultsAt = performance.now();
        state.firstResources = performance.getEntriesByType("resource").map(function (e) {
          return e.name;
        });
      }
      list.setAttribute("data-query", text);
      var n = answer.total;
      status(n === 0 ? "No package matches \u201c" + text + "\u201d." :
        n + (n === 1 ? " package matches." : " packages match."));
      if (searchPage) { prefetch(data); }
    }

    function answer(data, text, wanted, started, mine) {
      if (mine !== ticket) { return; }  // a later keystroke won
      var query = words(data, text);
      var complete = function () {
        if (mine !== ticket) { return; }
        var ids = find(data, query, wanted);
        if (ids.length === 0) { ids = typos(data, query, wanted); }
        show(data, text, { ids: ids, total: ids.length, complete: true }, started, "shards");
      };
      var missing = query.filter(function (w) {
        var shard = shards[shardKey(w)];
        return !(shard && shard.ready);
      });
      if (missing.length === 0) { complete(); return; }
      var quick = fromHead(data, query, wanted, view.shown);
      if (quick) { show(data, text, quick, started, "head"); }  // before any request
      var needed = missing.map(function (w) { return loadShard(data, shardKey(w)); });
      if (!(quick && quick.complete)) { Promise.all(needed).then(complete, failed); }
    }

    function failed(error) { status("Search is unavailable: " + error.message); }

    function update() {
      var started = performance.now();
      var text = input.value.trim();
      var mine = ++ticket;
      var wanted = filterOf(form);
      if (text !== lastText) { view.shown = PAGE; lastText = text; }
      if (!text && !filtered(wanted)) {
        render(view, null, [], 0, text);
        list.setAttribute("data-query", ""); list.removeAttribute("data-pending"); status("");
      } else {
        var pending = loadHead();
        if (pending.ready) {
          answer(pending.ready, text, wanted, started, mine);
        } else {
          pending.then(function (data) { answer(data, text, wanted, started, mine); })
            .catch(failed);
        }
      }
      if (searchPage) {  // the address keeps the query and filters (after the answer)
        var params = new URLSearchParams(window.location.search);  // others' too
        params.delete("q");
        if (text) { params.set("q", text); }
        Array.prototype.forEach.call(form.querySelectorAll("select.hub-filter"), function (s) {
          if (s.value) { params.set(s.name, s.value); } else { params.delete(s.name); }
        });
        history.replaceState(null, "", "?" + params.toString());
      }
    }

    function intent() { loadHead().then(prefetch, function () {}); }

    if (searchPage) {  // "show more" draws the next page in place
      view.moreLink.addEventListener("click", function (event) {
        event.preventDefault();
        view.shown += PAGE;
        update();
      });
    }
    if (searchPage) {  // after the first results (show), or once loaded when there are none
      var loaded = function () { if (!input.value.trim()) { intent(); } };
      if (document.readyState === "complete") { loaded(); } else {
        window.addEventListener("load", loaded);
      }
    } else {  // elsewhere only once someone shows intent to search
      input.addEventListener("focus", intent);
      form.addEventListener("pointerenter", intent);
      form.addEventListener("touchstart", intent, { passive: true });
      if (document.activeElement === input) { intent(); }
    }
    input.addEventListener("input", update);
    updaters.push(update);
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

  // Answer again with the filters as they are now (another script changed one).
  state.refresh = function () { updaters.forEach(function (update) { update(); }); };

  // The full ranking from the shards (loading the ones it needs), for tests.
  state.answer = function (text, wanted) {
    return loadHead().then(function (data) {
      var list = words(data, text);
      return Promise.all(list.map(function (w) { return loadShard(data, shardKey(w)); }))
        .then(function () {
          var ids = find(data, list, wanted || { kind: "" });
          return ids.length ? ids : typos(data, list, wanted || { kind: "" });
        });
    });
  };

  // The header's search box is rendered just after the header; it belongs in the bar,
  // before the palette switch.
  function placeHeaderSearch() {
    var box = document.getElementById("hub-header-search");
    var bar = document.querySelector(".md-header__inner");
    if (box && bar) { bar.insertBefore(box, bar.querySelector(".md-header__option")); }
  }

  function start() {
    placeHeaderSearch();
    searchPage = document.getElementById("hub-search-status") !== null;
    PAGE = searchPage ? 20 : 8;
    Array.prototype.forEach.call(document.querySelectorAll("form.hub-search"), attach);
  }

  // The search page asks for its head in <head> (a preload link, and this script
  // loaded async from there): start reading it now, while the page is still being
  // parsed, so that it is ready when the page has loaded.
  if (document.querySelector('link[rel="preload"][href$="search/index.json"]')) {
    loadHead().catch(function () {});
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
