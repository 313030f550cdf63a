/* The live inbox. Listens to the supporter's event stream (Server-Sent Events) and asks htmx
   to re-fetch what a notice names: the conversation list, and the open thread when it is the
   one that changed. Notices carry ids and kinds only; every word shown comes from the server.
   Any other page can ask the same: an element with data-live-on="notice resync" (the event
   names) is re-fetched by htmx ("live-refresh") on those events and on a reconnection, at
   most once a second (the coordinators' live board does).
   Loaded from 'self' (the content security policy allows no inline script). */
(function () {
  "use strict";

  var NEW_WORK = {
    assigned: "A conversation was given to you.",
    offered: "A conversation is offered to you.",
    text: "A new text arrived."
  };
  var baseTitle = document.title;
  var unseen = 0;

  function refresh(element) {
    if (element) window.htmx.trigger(element, "live-refresh");
  }

  function refreshList() {
    document.querySelectorAll("[data-live-list]").forEach(refresh);
  }

  function openThread() {
    return document.querySelector("[data-live-thread]");
  }

  function refreshAll() {
    refreshList();
    refresh(openThread());
    refreshSubscribers(null);
  }

  // Elements that asked for events by name: re-fetched at most once a second, the last
  // event of a burst always followed by a fetch.
  var LEAST_GAP_MS = 1000;
  var lastFetch = new WeakMap();
  var pending = new WeakMap();

  function throttled(element) {
    if (pending.get(element)) return;
    var wait = (lastFetch.get(element) || 0) + LEAST_GAP_MS - Date.now();
    if (wait <= 0) {
      lastFetch.set(element, Date.now());
      refresh(element);
      return;
    }
    pending.set(element, true);
    window.setTimeout(function () {
      pending.set(element, false);
      lastFetch.set(element, Date.now());
      refresh(element);
    }, wait);
  }

  function refreshSubscribers(name) {
    document.querySelectorAll("[data-live-on]").forEach(function (element) {
      var names = element.getAttribute("data-live-on").split(/\s+/);
      if (name === null || names.indexOf(name) !== -1) throttled(element);
    });
  }

  function subscribe(source) {
    var names = {};
    document.querySelectorAll("[data-live-on]").forEach(function (element) {
      element.getAttribute("data-live-on").split(/\s+/).forEach(function (name) {
        if (name) names[name] = true;
      });
    });
    Object.keys(names).forEach(function (name) {
      source.addEventListener(name, function () { refreshSubscribers(name); });
    });
  }

  function showBadge() {
    document.title = unseen > 0 ? "(" + unseen + ") " + baseTitle : baseTitle;
  }

  function seen() {
    if (!document.hidden && document.hasFocus()) {
      unseen = 0;
      showBadge();
    }
  }

  function announce(text) {
    var status = document.getElementById("live-status");
    if (status) status.textContent = text;
  }

  function onNotice(event) {
    var notice = JSON.parse(event.data);
    var thread = openThread();
    var inView = thread !== null &&
      Number(thread.getAttribute("data-live-thread")) === notice.conversation;
    refreshList();
    if (inView) refresh(thread);
    if (NEW_WORK[notice.kind]) {
      announce(NEW_WORK[notice.kind]);
      document.dispatchEvent(new CustomEvent("helpline:new-work", { detail: notice.kind }));
      if (document.hidden || !document.hasFocus()) {
        unseen += 1;
        showBadge();
      }
    }
  }

  function listen(url) {
    var source = new EventSource(url);
    var opened = false;
    source.addEventListener("notice", onNotice);
    source.addEventListener("resync", function () {
      refreshList();
      refresh(openThread());
    });
    subscribe(source);
    source.addEventListener("open", function () {
      // The first connection starts where the page left off; a reconnection also re-reads
      // the page, in case a notice could not be published while it was away.
      if (opened) refreshAll();
      opened = true;
    });
    source.addEventListener("error", function () {
      if (source.readyState === EventSource.CLOSED) {
        // Refused outright (signed out, a proxy in the way): try again in a while.
        window.setTimeout(function () { listen(url); }, 15000);
      }
    });
  }

  // A thread that just left this supporter answers 404 with a plain explanation: show it.
  document.addEventListener("htmx:beforeSwap", function (event) {
    var detail = event.detail;
    if (detail.xhr.status === 404 && detail.target.hasAttribute("data-live-thread")) {
      detail.shouldSwap = true;
      detail.isError = false;
    }
  });

  // Keep the newest text in view when the thread is refreshed, unless the supporter had
  // scrolled up to read.
  var pinned = true;
  document.addEventListener("htmx:beforeSwap", function (event) {
    if (event.detail.target.hasAttribute("data-live-thread")) {
      var entries = event.detail.target.querySelector("[data-thread-entries]");
      pinned = !entries || entries.scrollHeight - entries.scrollTop - entries.clientHeight < 40;
    }
  });
  document.addEventListener("htmx:afterSwap", function (event) {
    if (pinned && event.detail.target.hasAttribute("data-live-thread")) scrollToNewest();
  });

  function scrollToNewest() {
    var entries = document.querySelector("[data-thread-entries]");
    if (entries) entries.scrollTop = entries.scrollHeight;
  }

  document.addEventListener("visibilitychange", seen);
  window.addEventListener("focus", seen);
  document.addEventListener("DOMContentLoaded", function () {
    scrollToNewest();
    var url = document.body.getAttribute("data-live-events");
    if (url && window.EventSource && window.htmx) listen(url);
  });
})();
