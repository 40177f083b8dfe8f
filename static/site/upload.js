/* Upload flow: file -> XMLHttpRequest upload with a real progress bar -> poll processing -> confirm tags. */
(function () {
  "use strict";
  var app = document.getElementById("upload-app");
  if (!app) return;
  var Site = window.Site;
  var U = JSON.parse(document.getElementById("upload-i18n").textContent);
  var input = document.getElementById("id_file");
  var dropzone = document.getElementById("dropzone");
  var form = document.getElementById("upload-form");
  var chosen = null;

  function mb(bytes) { return (bytes / 1048576).toFixed(1) + " MB"; }
  function fieldError(name, text) {
    var node = document.getElementById(name + "-error");
    (node || document.getElementById("form-error")).textContent = text || "";
    var field = document.getElementById("id_" + name);
    if (field) { if (text) field.setAttribute("aria-invalid", "true"); else field.removeAttribute("aria-invalid"); }
  }
  function clearErrors() { ["file", "title", "description", "visibility", "form"].forEach(function (n) { fieldError(n, ""); }); }
  function choose(file) {
    chosen = file || null;
    document.getElementById("chosen-file").textContent = chosen ? chosen.name + " (" + mb(chosen.size) + ")" : "";
    fieldError("file", "");
    if (chosen && chosen.type && chosen.type.indexOf("video/") !== 0) fieldError("file", U.notVideo);
    if (chosen && chosen.size > Number(app.dataset.maxBytes)) fieldError("file", U.tooLarge);
  }
  input.addEventListener("change", function () { choose(input.files[0]); });
  ["dragenter", "dragover"].forEach(function (type) {
    dropzone.addEventListener(type, function (e) { e.preventDefault(); dropzone.classList.add("over"); });
  });
  ["dragleave", "drop"].forEach(function (type) {
    dropzone.addEventListener(type, function (e) { e.preventDefault(); dropzone.classList.remove("over"); });
  });
  dropzone.addEventListener("drop", function (e) { if (e.dataTransfer.files.length) choose(e.dataTransfer.files[0]); });

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    clearErrors();
    if (!chosen) { fieldError("file", U.noFile); input.focus(); return; }
    if (chosen.size > Number(app.dataset.maxBytes)) { fieldError("file", U.tooLarge); return; }
    var data = new FormData();
    data.append("file", chosen, chosen.name);
    ["title", "description", "visibility"].forEach(function (n) { data.append(n, document.getElementById("id_" + n).value); });
    var xhr = new XMLHttpRequest();
    var bar = document.getElementById("upload-progress"), text = document.getElementById("progress-text");
    document.getElementById("progress-box").hidden = false;
    document.getElementById("upload-submit").disabled = true;
    xhr.upload.addEventListener("progress", function (e) {
      if (!e.lengthComputable) return;
      bar.max = e.total;
      bar.value = e.loaded;
      bar.dataset.loaded = e.loaded;
      text.textContent = U.sent + " " + mb(e.loaded) + " / " + mb(e.total) + " (" + Math.floor(e.loaded / e.total * 100) + "%)";
    });
    xhr.addEventListener("load", function () {
      document.getElementById("upload-submit").disabled = false;
      var body = null;
      try { body = JSON.parse(xhr.responseText); } catch (e) { body = null; }
      if (xhr.status === 201 && body) {
        bar.value = bar.max;
        startProcessing(body.id);
        return;
      }
      var errors = (body && body.errors) || {};
      var shown = false;
      Object.keys(errors).forEach(function (name) {
        var msg = Array.isArray(errors[name]) ? errors[name][0] : String(errors[name]);
        fieldError(["file", "title", "description", "visibility"].indexOf(name) >= 0 ? name : "form", msg);
        shown = true;
      });
      if (!shown) fieldError("form", U.uploadFailed + Site.errorText(body));
    });
    xhr.addEventListener("error", function () {
      document.getElementById("upload-submit").disabled = false;
      fieldError("form", Site.T.network);
    });
    xhr.open("POST", "/api/v1/videos/");
    xhr.setRequestHeader("X-CSRFToken", Site.csrf());
    xhr.setRequestHeader("Accept", "application/json");
    xhr.send(data);
  });

  function startProcessing(id) {
    document.getElementById("step-processing").hidden = false;
    var status = document.getElementById("processing-status");
    status.textContent = U.processing;
    status.dataset.status = "processing";
    var started = Date.now();
    (function poll() {
      Site.api("GET", "/api/v1/videos/" + id + "/").then(function (result) {
        var video = result.data || {};
        if (result.ok && video.status === "published") {
          status.textContent = U.published;
          status.dataset.status = "published";
          showTags(id, 0);
        } else if (result.ok && video.status === "failed") {
          status.textContent = U.failed + (video.failure_reason || "");
          status.dataset.status = "failed";
          status.classList.add("failed");
        } else {
          if (Date.now() - started > 10 * 60 * 1000) { status.textContent = U.timeout; return; }
          setTimeout(poll, Date.now() - started < 20000 ? 700 : 3000);
        }
      });
    })();
  }

  function showTags(id, attempt) {
    var section = document.getElementById("step-tags");
    section.hidden = false;
    section.dataset.videoId = id;
    document.getElementById("watch-link").href = "/watch/" + id + "/";
    Site.api("GET", "/api/v1/videos/" + id + "/tags").then(function (result) {
      var rows = (result.ok && result.data) || [];
      if (!rows.length && attempt < 4) { setTimeout(function () { showTags(id, attempt + 1); }, 1000); }
      var box = document.getElementById("tag-choices");
      box.textContent = "";
      rows.forEach(function (row) {
        var label = document.createElement("label");
        var check = document.createElement("input");
        check.type = "checkbox"; check.value = row.name; check.checked = row.state !== "rejected";
        check.dataset.state = row.state;
        var span = document.createElement("span"); span.textContent = row.name;
        label.append(check, span);
        box.append(label);
      });
      document.getElementById("no-suggestions").hidden = rows.length > 0;
    });
  }

  document.getElementById("tags-form").addEventListener("submit", function (event) {
    event.preventDefault();
    var id = document.getElementById("step-tags").dataset.videoId;
    var accept = [], reject = [];
    document.querySelectorAll("#tag-choices input").forEach(function (c) {
      if (c.checked && c.dataset.state !== "active") accept.push(c.value);
      if (!c.checked && c.dataset.state !== "rejected") reject.push(c.value);
    });
    var add = document.getElementById("id_add_tags").value.split(/[,，、\s]+/).filter(Boolean);
    var error = document.getElementById("tags-error");
    error.textContent = "";
    Site.api("POST", "/api/v1/videos/" + id + "/tags/confirm", {accept: accept, reject: reject, add: add}).then(function (result) {
      if (!result.ok) { error.textContent = Site.errorText(result.data); return; }
      document.getElementById("id_add_tags").value = "";
      document.getElementById("tags-saved").hidden = false;
      showTags(id, 99);
    });
  });

  if (app.dataset.video) startProcessing(Number(app.dataset.video));
})();
