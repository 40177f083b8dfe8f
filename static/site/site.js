/* Shared page behaviour: API calls with CSRF, the event beacon, impressions, "not interested", infinite scroll. */
(function () {
  "use strict";
  var i18nNode = document.getElementById("site-i18n");
  var T = i18nNode ? JSON.parse(i18nNode.textContent) : {};

  function cookie(name) {
    var match = document.cookie.match(new RegExp("(?:^|; )" + name + "=([^;]*)"));
    return match ? decodeURIComponent(match[1]) : "";
  }
  function csrf() {
    var input = document.querySelector("input[name=csrfmiddlewaretoken]");
    return cookie("csrftoken") || (input ? input.value : "");
  }
  // Forms that ask before submitting (no inline handlers: the Content-Security-Policy forbids them).
  document.addEventListener("submit", function (event) {
    var message = event.target.dataset ? event.target.dataset.confirm : "";
    if (message && !window.confirm(message)) event.preventDefault();
  });
  function announce(text) {
    var live = document.getElementById("live");
    if (live) { live.textContent = ""; setTimeout(function () { live.textContent = text; }, 30); }
  }
  function errorText(data, fallback) {
    if (data && typeof data.detail === "string") return data.detail;
    if (data && data.errors) {
      for (var key in data.errors) {
        var value = data.errors[key];
        if (Array.isArray(value) && value.length) return String(value[0]);
      }
    }
    return fallback || T.error;
  }
  function api(method, url, body) {
    var options = {method: method, credentials: "same-origin",
                   headers: {"X-CSRFToken": csrf(), "Accept": "application/json"}};
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(url, options).then(function (response) {
      return response.text().then(function (text) {
        var data = null;
        try { data = text ? JSON.parse(text) : null; } catch (e) { data = null; }
        if (response.status === 401 || response.status === 403) {
          if (!document.body.dataset.authenticated) {
            window.location.href = "/accounts/login/?next=" + encodeURIComponent(location.pathname + location.search);
          }
        }
        return {ok: response.ok, status: response.status, data: data};
      });
    }, function () { return {ok: false, status: 0, data: {detail: T.network}}; });
  }
  function uuid() {
    if (window.crypto && crypto.randomUUID) return crypto.randomUUID();
    return "xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx".replace(/[xy]/g, function (c) {
      var r = Math.random() * 16 | 0; return (c === "x" ? r : (r & 0x3 | 0x8)).toString(16);
    });
  }

  // --- the beacon: batched events, flushed every few seconds and when the page is hidden ---
  var queue = [];
  var BEACON_URL = "/api/v1/events/beacon";
  function track(event) {
    event.event_id = event.event_id || uuid();
    event.occurred_at = event.occurred_at || new Date().toISOString();
    queue.push(event);
  }
  function flush(useBeacon) {
    if (!queue.length) return;
    var events = queue.splice(0, 200);
    if (useBeacon && navigator.sendBeacon) {
      var payload = JSON.stringify({events: events, csrf_token: csrf()});
      if (navigator.sendBeacon(BEACON_URL, new Blob([payload], {type: "text/plain"}))) return;
    }
    fetch(BEACON_URL, {method: "POST", credentials: "same-origin", keepalive: true,
                       headers: {"Content-Type": "application/json", "X-CSRFToken": csrf()},
                       body: JSON.stringify({events: events})}).catch(function () {});
  }
  setInterval(function () { flush(false); }, 5000);
  document.addEventListener("visibilitychange", function () {
    if (document.visibilityState === "hidden") { document.dispatchEvent(new Event("site:leaving")); flush(true); }
  });
  window.addEventListener("pagehide", function () { document.dispatchEvent(new Event("site:leaving")); flush(true); });

  // --- impressions of cards that the server did not already record (tag, search, profile, lists) ---
  var seen = {};
  var impressionObserver = "IntersectionObserver" in window ? new IntersectionObserver(function (entries) {
    entries.forEach(function (entry) {
      if (!entry.isIntersecting) return;
      var el = entry.target, id = el.dataset.videoId;
      impressionObserver.unobserve(el);
      if (seen[id]) return;
      seen[id] = true;
      track({video: Number(id), kind: "impression",
             context: {page: el.dataset.page || "", channel: el.dataset.channel || "", position: Number(el.dataset.position || 0)}});
    });
  }, {threshold: 0.5}) : null;
  function observeImpressions(root) {
    if (!impressionObserver) return;
    (root || document).querySelectorAll("[data-impress][data-video-id]").forEach(function (el) {
      impressionObserver.observe(el);
    });
  }

  // --- "not interested" on cards ---
  document.addEventListener("click", function (event) {
    var button = event.target.closest(".js-dislike");
    if (!button) return;
    event.preventDefault();
    button.disabled = true;
    api("PUT", "/api/v1/videos/" + button.dataset.videoId + "/dislike").then(function (result) {
      if (result.ok) {
        var card = button.closest("li.card-item");
        var next = card && (card.nextElementSibling || card.previousElementSibling);
        if (card) card.remove();
        announce(T.removed);
        var focusTarget = next && next.querySelector("a");
        if (focusTarget) focusTarget.focus();
      } else {
        button.disabled = false;
        announce(errorText(result.data));
        alert(errorText(result.data));
      }
    });
  });

  // --- infinite scroll with a real button as the keyboard / no-observer fallback ---
  function setupMore(container) {
    var button = document.getElementById(container.dataset.moreButton);
    if (!button) return;
    var list = container.querySelector("ul.grid, ol.grid") || container;
    var loading = false;
    function load() {
      if (loading || button.hidden) return;
      loading = true;
      var page = Number(container.dataset.page || 1) + 1;
      var label = button.textContent;
      button.textContent = T.loading;
      button.disabled = true;
      var url = container.dataset.moreUrl + (container.dataset.moreUrl.indexOf("?") >= 0 ? "&" : "?") + "page=" + page;
      fetch(url, {credentials: "same-origin", headers: {"X-Requested-With": "fetch"}}).then(function (response) {
        var hasNext = response.headers.get("X-Has-Next") === "1";
        return response.text().then(function (html) {
          var holder = document.createElement("ul");
          holder.innerHTML = html;
          var items = holder.querySelectorAll("li.card-item");
          var existing = {};
          list.querySelectorAll("li.card-item").forEach(function (li) { existing[li.dataset.videoId] = true; });
          items.forEach(function (li) { if (!existing[li.dataset.videoId]) list.appendChild(li); });
          container.dataset.page = String(page);
          observeImpressions(list);
          if (!hasNext || !items.length) {
            button.hidden = true;
            var done = document.getElementById(container.dataset.moreDone);
            if (done) done.hidden = false;
          }
        });
      }).catch(function () { announce(T.network); }).then(function () {
        loading = false;
        button.textContent = label;
        button.disabled = false;
      });
    }
    button.addEventListener("click", load);
    if ("IntersectionObserver" in window) {
      new IntersectionObserver(function (entries) {
        if (entries.some(function (e) { return e.isIntersecting; })) load();
      }, {rootMargin: "400px"}).observe(button);
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    observeImpressions(document);
    document.querySelectorAll("[data-more-url]").forEach(setupMore);
  });

  window.Site = {api: api, csrf: csrf, track: track, flush: flush, announce: announce, errorText: errorText,
                 uuid: uuid, T: T, observeImpressions: observeImpressions};
})();
