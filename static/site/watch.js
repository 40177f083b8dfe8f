/* Watch page: view progress to the beacon, like / favourite / follow / not interested, comments and replies. */
(function () {
  "use strict";
  var root = document.getElementById("watch");
  if (!root) return;
  var Site = window.Site, T = Site.T;
  var videoId = Number(root.dataset.videoId);
  var context = {page: "watch"};
  if (root.dataset.channel) context.channel = root.dataset.channel;
  if (root.dataset.requestId) context.request_id = root.dataset.requestId;
  var errorBox = document.getElementById("action-error");
  function showError(text) { errorBox.textContent = text; errorBox.hidden = false; Site.announce(text); }
  function clearError() { errorBox.hidden = true; errorBox.textContent = ""; }

  // --- watch progress: seconds actually played (seeks do not count), reported once per viewing stretch ---
  var player = document.getElementById("player");
  if (player) {
    var watched = 0, last = null;
    player.addEventListener("timeupdate", function () {
      var now = player.currentTime;
      if (last !== null && !player.seeking) {
        var delta = now - last;
        if (delta > 0 && delta < 1.5) watched += delta;
      }
      last = now;
    });
    player.addEventListener("seeking", function () { last = null; });
    function report() {
      if (watched < 0.5) return;
      var duration = player.duration && isFinite(player.duration) ? player.duration : Number(root.dataset.duration || 0);
      var event = {video: videoId, kind: "view", watch_seconds: Math.round(watched * 10) / 10, context: context};
      if (duration > 0) event.watch_ratio = Math.min(100, Math.round(watched / duration * 1000) / 1000);
      Site.track(event);
      watched = 0;
    }
    player.addEventListener("ended", function () { report(); Site.flush(false); });
    document.addEventListener("site:leaving", report);
  }

  // --- marks: like, favourite, not interested ---
  var labels = {like: [T.like, T.liked], favourite: [T.favourite, T.favourited], dislike: [T.notInterested, T.undoNotInterested]};
  function applyState(state) {
    [["like", "liked", "like_count"], ["favourite", "favourited", "favourite_count"], ["dislike", "disliked", null]].forEach(function (spec) {
      var button = document.getElementById(spec[0] + "-button");
      if (!button) return;
      var on = !!state[spec[1]];
      button.setAttribute("aria-pressed", on ? "true" : "false");
      button.querySelector(".label").textContent = labels[spec[0]][on ? 1 : 0];
      if (spec[2]) document.getElementById(spec[0] + "-count").textContent = state[spec[2]];
    });
  }
  document.querySelectorAll("[data-mark]").forEach(function (button) {
    button.addEventListener("click", function () {
      clearError();
      var on = button.getAttribute("aria-pressed") === "true";
      button.disabled = true;
      Site.api(on ? "DELETE" : "PUT", "/api/v1/videos/" + videoId + "/" + button.dataset.mark).then(function (result) {
        button.disabled = false;
        if (result.ok) { applyState(result.data); } else { showError(Site.errorText(result.data)); }
      });
    });
  });

  var follow = document.getElementById("follow-button");
  if (follow) {
    follow.addEventListener("click", function () {
      clearError();
      var on = follow.getAttribute("aria-pressed") === "true";
      follow.disabled = true;
      Site.api(on ? "DELETE" : "PUT", "/api/v1/users/" + encodeURIComponent(root.dataset.owner) + "/follow",
               on ? undefined : {video: videoId}).then(function (result) {
        follow.disabled = false;
        if (!result.ok) { showError(Site.errorText(result.data)); return; }
        follow.setAttribute("aria-pressed", result.data.following ? "true" : "false");
        follow.querySelector(".label").textContent = result.data.following ? T.following : T.follow;
      });
    });
  }

  // --- viewer tags ---
  var tagForm = document.getElementById("viewer-tag-form");
  if (tagForm) {
    tagForm.addEventListener("submit", function (event) {
      event.preventDefault();
      var input = document.getElementById("viewer-tag-input"), error = document.getElementById("viewer-tag-error");
      error.textContent = "";
      Site.api("POST", "/api/v1/videos/" + videoId + "/tags", {tags: [input.value]}).then(function (result) {
        if (!result.ok) { error.textContent = Site.errorText(result.data); return; }
        input.value = "";
        Site.announce(document.getElementById("viewer-tag-help").textContent);
      });
    });
  }

  // --- comments and replies ---
  var form = document.getElementById("comment-form");
  var list = document.getElementById("comment-list");
  var replyTo = null;
  function commentNode(comment, isReply) {
    var li = document.createElement("li");
    li.className = "comment" + (isReply ? " reply" : "");
    li.id = "comment-" + comment.id;
    li.dataset.commentId = comment.id;
    var who = document.createElement("span"); who.className = "who";
    who.textContent = comment.author.display_name || comment.author.username;
    var when = document.createElement("time"); when.className = "when"; when.textContent = T.justNow;
    var text = document.createElement("p"); text.className = "text"; text.textContent = comment.text;
    li.append(who, when, text);
    if (!isReply) {
      var reply = document.createElement("button");
      reply.type = "button"; reply.className = "link js-reply"; reply.textContent = T.reply;
      reply.dataset.commentId = comment.id; reply.dataset.author = who.textContent;
      li.append(reply);
    }
    if (comment.can_delete) {
      var del = document.createElement("button");
      del.type = "button"; del.className = "link js-comment-delete"; del.textContent = T.delete;
      del.dataset.commentId = comment.id;
      li.append(" ", del);
    }
    if (!isReply) { var replies = document.createElement("ol"); replies.className = "replies"; li.append(replies); }
    return li;
  }
  function setReply(id, author) {
    replyTo = id;
    document.getElementById("reply-note").hidden = !id;
    document.getElementById("reply-to").textContent = author || "";
  }
  if (form) {
    var textarea = document.getElementById("comment-text"), error = document.getElementById("comment-error");
    document.getElementById("reply-cancel").addEventListener("click", function () { setReply(null); textarea.focus(); });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      error.textContent = "";
      var text = textarea.value.trim();
      var body = {text: text};
      if (replyTo) body.parent = replyTo;
      var submit = form.querySelector("button[type=submit]");
      submit.disabled = true;
      Site.api("POST", "/api/v1/videos/" + videoId + "/comments", body).then(function (result) {
        submit.disabled = false;
        if (!result.ok) {
          error.textContent = Site.errorText(result.data);
          textarea.setAttribute("aria-invalid", "true");
          textarea.focus();
          return;
        }
        textarea.removeAttribute("aria-invalid");
        var comment = result.data;
        var empty = document.getElementById("no-comments");
        if (empty) empty.remove();
        if (comment.parent) {
          var parent = document.getElementById("comment-" + comment.parent);
          parent.querySelector("ol.replies").append(commentNode(comment, true));
        } else {
          list.prepend(commentNode(comment, false));
        }
        var count = document.getElementById("comment-count");
        count.textContent = Number(count.textContent) + 1;
        textarea.value = "";
        setReply(null);
        Site.announce(comment.text);
      });
    });
  }
  document.addEventListener("click", function (event) {
    var reply = event.target.closest(".js-reply");
    if (reply && form) {
      setReply(Number(reply.dataset.commentId), reply.dataset.author);
      document.getElementById("comment-text").focus();
      return;
    }
    var del = event.target.closest(".js-comment-delete");
    if (del) {
      Site.api("DELETE", "/api/v1/comments/" + del.dataset.commentId).then(function (result) {
        if (!result.ok) { showError(Site.errorText(result.data)); return; }
        var node = document.getElementById("comment-" + del.dataset.commentId);
        if (node) node.remove();
      });
    }
  });
})();
