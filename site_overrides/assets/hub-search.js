/* eBPF Hub search: results as you type, from the generator's prebuilt lunr index.
 *
 * Every form.hub-search on a page gets live results in the list after it. The
 * index (api/v1/search/lunr.json), the result texts (api/v1/search/docs.json)
 * and lunr.min.js load once, on first use, so pages that never search pay
 * nothing. Each word is matched as a stemmed term or as a prefix ("open" finds
 * "opensnoop"), and every word must match. Text is inserted with textContent.
 */
(function () {
  "use strict";

  var meta = document.querySelector('meta[name="hub-base"]');
  var base = (meta ? meta.getAttribute("content") : ".").replace(/\/$/, "") || ".";
  var searchPage = document.getElementById("hub-search-status") !== null;
  var engine = null;

  function url(path) { return base + "/" + path; }

  function loadScript(src) {
    return new Promise(function (resolve, reject) {
      if (window.lunr) { resolve(); return; }
      var tag = document.createElement("script");
      tag.src = src;
      tag.onload = function () { resolve(); };
      tag.onerror = function () { reject(new Error("cannot load " + src)); };
      document.head.appendChild(tag);
    });
  }

  function fetchJSON(path) {
    return fetch(url(path)).then(function (response) {
      if (!response.ok) { throw new Error(path + ": HTTP " + response.status); }
      return response.json();
    });
  }

  function load() {
    if (engine === null) {
      engine = Promise.all([
        loadScript(url("assets/lunr.min.js")),
        fetchJSON("api/v1/search/lunr.json"),
        fetchJSON("api/v1/search/docs.json"),
      ]).then(function (parts) {
        return { index: window.lunr.Index.load(parts[1]), docs: parts[2].packages };
      });
    }
    return engine;
  }

  function words(text) {
    return text.toLowerCase().split(/[\s\-]+/).map(function (word) {
      return word.replace(/^\W+|\W+$/g, "");
    }).filter(Boolean);
  }

  function find(loaded, text) {
    var lunr = window.lunr;
    var scores = null;
    words(text).forEach(function (word) {
      var hits = loaded.index.query(function (query) {
        query.term(word, { boost: 10 });
        query.term(word, { usePipeline: false, wildcard: lunr.Query.wildcard.TRAILING });
      });
      var next = new Map();
      hits.forEach(function (hit) {
        if (scores === null || scores.has(hit.ref)) {
          next.set(hit.ref, (scores === null ? 0 : scores.get(hit.ref)) + hit.score);
        }
      });
      scores = next;
    });
    if (scores === null) { return []; }
    return Array.from(scores.entries()).sort(function (a, b) {
      return b[1] - a[1] || (a[0] < b[0] ? -1 : 1);
    }).map(function (entry) { return entry[0]; });
  }

  function element(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text) { node.textContent = text; }
    return node;
  }

  function render(list, loaded, names, limit, text) {
    list.textContent = "";
    names.slice(0, limit).forEach(function (name) {
      var doc = loaded.docs[name] || { summary: "", kind: "" };
      var item = element("li");
      var link = element("a", "hub-result", name);
      link.href = url("packages/" + encodeURIComponent(name) + "/");
      item.appendChild(link);
      item.appendChild(element("span", "hub-kind", doc.kind));
      item.appendChild(element("span", "", doc.summary));
      list.appendChild(item);
    });
    if (names.length > limit) {
      var more = element("li");
      var all = element("a", "", "all " + names.length + " results");
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
    var limit = searchPage ? 200 : 8;
    var pending = 0;

    function update() {
      var text = input.value.trim();
      var ticket = ++pending;
      if (searchPage) {
        history.replaceState(null, "", text ? "?q=" + encodeURIComponent(text) : "?");
      }
      if (!text) { list.textContent = ""; status(""); return; }
      load().then(function (loaded) {
        if (ticket !== pending) { return; }  // a later keystroke won
        var names = find(loaded, text);
        render(list, loaded, names, limit, text);
        status(names.length === 0 ? "No package matches \u201c" + text + "\u201d." :
          names.length + (names.length === 1 ? " package matches." : " packages match."));
      }).catch(function (error) {
        status("Search is unavailable: " + error.message);
      });
    }

    input.addEventListener("focus", function () { load().catch(function () {}); });
    input.addEventListener("input", update);
    if (searchPage) {
      var query = new URLSearchParams(window.location.search).get("q");
      if (query) { input.value = query; update(); }
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
