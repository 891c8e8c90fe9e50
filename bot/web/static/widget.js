/* Loket chat widget for municipal websites. No build step: the web app serves /widget.js as this
 * file wrapped with a small server config (LOKET_SERVER_CONFIG) and the socket.io client (loketIo).
 *
 * Embed: <script src="https://<loket>/widget.js" data-gemeente="utrecht" data-color="#00689e"
 *                 data-greeting="..." defer></script>
 * Optional: data-rasa-url (defaults to the server's Rasa URL).
 *
 * Talks to Rasa's socket.io channel (session_request + user_uttered / bot_uttered) and falls back to
 * the REST channel when socket.io cannot connect. Every message carries {"gemeente": ...} metadata.
 * The sender id and the messages live in sessionStorage, so the conversation survives page loads.
 */
(function (server, ioFactory) {
  "use strict";

  if (window.__loketWidget) return; // embedded twice: keep the first
  window.__loketWidget = true;

  var STORE_PREFIX = "loket:";
  var DEFAULT_COLOR = "#0b5394";
  var BOT_BG = "#f3f4f6"; // keep in sync with --loket-bot-bg in widget.css
  var MAX_HISTORY = 200;
  var ANSWER_TIMEOUT_MS = 30000;
  var QUIET_MS = 1200; // socket.io has no "end of answer": hide the typing dots after this pause
  var maxChars = Number(server.maxChars) > 0 ? Number(server.maxChars) : 1000;
  // Phrases of messages around contact details (bot/conversation/personal_prompts.py): no thumbs under those, or
  // a vote would send a name, e-mail address or phone number to the feedback route.
  var NO_RATING = Array.isArray(server.noRating) ? server.noRating.filter(function (m) {
    return typeof m === "string" && m; }) : [];

  var START_CHOICES = [
    { title: "Welke subsidies zijn er?", payload: "Welke subsidies zijn er voor mijn bedrijf?" },
    { title: "Werken met mensen met een beperking", payload: "Ik wil iemand met een arbeidsbeperking aannemen" },
    { title: "Een knelpunt melden", payload: "/report_knelpunt" }
  ];
  var HUMAN = { title: "Praat met een mens", payload: "/request_human" };
  // Material Icons "chat" and "thumb_up" (Apache License 2.0).
  var ICON_CHAT = "M20 2H4c-1.1 0-2 .9-2 2v18l4-4h14c1.1 0 2-.9 2-2V4c0-1.1-.9-2-2-2z";
  var ICON_THUMB = "M1 21h4V9H1v12zm22-11c0-1.1-.9-2-2-2h-6.31l.95-4.57.03-.32c0-.41-.17-.79-.44-1.06L14.17 1 7.59 7.59C7.22 7.95 7 8.45 7 9v10c0 1.1.9 2 2 2h9c.83 0 1.54-.5 1.84-1.22l3.02-7.05c.09-.23.14-.47.14-.73v-2z";

  // --- configuration from the script tag -------------------------------------------------------

  function findScript() {
    if (document.currentScript) return document.currentScript;
    var all = document.querySelectorAll("script[src*='widget.js']");
    return all.length ? all[all.length - 1] : null;
  }

  var script = findScript();
  var data = (script && script.dataset) || {};
  var base = server.baseUrl || "";
  try {
    if (script && script.src) base = new URL(script.src, location.href).origin;
  } catch (e) { /* keep the server's base URL */ }

  var gemeente = /^[a-z0-9][a-z0-9-]{0,79}$/.test((data.gemeente || "").toLowerCase())
    ? data.gemeente.toLowerCase() : "";
  var rasaUrl = (data.rasaUrl || server.rasaUrl || "").replace(/\/+$/, "");
  var greeting = (data.greeting || "").trim().slice(0, 400);

  // WCAG contrast: the accent carries white text and is used for links on the bot bubbles.
  function luminance(hex) {
    var rgb = [1, 3, 5].map(function (i) { return parseInt(hex.substr(i, 2), 16) / 255; });
    var lin = rgb.map(function (c) { return c <= 0.03928 ? c / 12.92 : Math.pow((c + 0.055) / 1.055, 2.4); });
    return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2];
  }
  function contrast(a, b) {
    var la = luminance(a), lb = luminance(b);
    return (Math.max(la, lb) + 0.05) / (Math.min(la, lb) + 0.05);
  }
  function normalizeHex(value) {
    var v = (value || "").trim().toLowerCase();
    if (/^#[0-9a-f]{3}$/.test(v)) v = "#" + v[1] + v[1] + v[2] + v[2] + v[3] + v[3];
    return /^#[0-9a-f]{6}$/.test(v) ? v : "";
  }
  function safeAccent(value) {
    var hex = normalizeHex(value);
    if (hex && contrast(hex, "#ffffff") >= 4.5 && contrast(hex, BOT_BG) >= 4.5) return hex;
    return DEFAULT_COLOR;
  }
  var accent = safeAccent(data.color);

  // --- storage (sessionStorage may be blocked: then the conversation lives in memory) ----------

  var memory = {};
  function load(key, fallback) {
    var raw = null;
    try { raw = window.sessionStorage.getItem(STORE_PREFIX + key); } catch (e) { raw = memory[key]; }
    if (raw === null || raw === undefined) return fallback;
    try { return JSON.parse(raw); } catch (e) { return fallback; }
  }
  function save(key, value) {
    var raw = JSON.stringify(value);
    try { window.sessionStorage.setItem(STORE_PREFIX + key, raw); } catch (e) { memory[key] = raw; }
  }
  function newSenderId() {
    var bytes = new Uint8Array(16);
    window.crypto.getRandomValues(bytes);
    return Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
  }

  var senderId = load("sender", "");
  if (!/^[a-f0-9]{32}$/.test(senderId)) { senderId = newSenderId(); save("sender", senderId); }
  var history = load("history", []);
  if (!Array.isArray(history)) history = [];
  var nextId = history.reduce(function (m, item) { return Math.max(m, item.id || 0); }, 0) + 1;
  var turn = history.reduce(function (m, item) { return Math.max(m, item.turn || 0); }, 0);

  function persist() {
    if (history.length > MAX_HISTORY) history = history.slice(history.length - MAX_HISTORY);
    save("history", history);
  }

  // --- small DOM helpers -----------------------------------------------------------------------

  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k];
      else if (k === "className") node.className = attrs[k];
      else if (attrs[k] !== null && attrs[k] !== undefined && attrs[k] !== false) node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (c) { if (c) node.appendChild(typeof c === "string" ? document.createTextNode(c) : c); });
    return node;
  }
  function icon(path) {
    var ns = "http://www.w3.org/2000/svg";
    var svg = document.createElementNS(ns, "svg");
    svg.setAttribute("viewBox", "0 0 24 24");
    svg.setAttribute("aria-hidden", "true");
    svg.setAttribute("focusable", "false");
    var p = document.createElementNS(ns, "path");
    p.setAttribute("d", path);
    svg.appendChild(p);
    return svg;
  }

  // Links only to web pages, e-mail and phone: never javascript:, data: or another scheme that runs
  // code or shows content as if it came from this page. "" when the URL is not allowed.
  var SAFE_SCHEMES = ["https:", "http:", "mailto:", "tel:"];
  function safeUrl(value) {
    if (typeof value !== "string") return "";
    var v = value.trim();
    if (!v || /[\u0000-\u0020\u007f-\u009f\\]/.test(v)) return "";
    var parsed;
    try { parsed = new URL(v); } catch (e) { return ""; } // absolute URLs only
    return SAFE_SCHEMES.indexOf(parsed.protocol) !== -1 ? v : "";
  }

  // Bot text becomes text nodes and links: nothing from the server is ever parsed as HTML.
  var LINK_RE = /\[([^\]\n]{1,200})\]\(((?:https?:\/\/|mailto:)[^\s)]+)\)|(https?:\/\/[^\s<>"]+)|(\*\*[^*\n]+\*\*)/g;
  function linkNode(href, label) {
    if (!safeUrl(href)) return el("span", { text: label });
    var a = el("a", { href: href, rel: "noopener noreferrer", target: "_blank" }, [label]);
    a.appendChild(el("span", { className: "loket-sr-only", text: " (opent in een nieuw venster)" }));
    return a;
  }
  function renderInline(line, parent) {
    var last = 0, m;
    LINK_RE.lastIndex = 0;
    while ((m = LINK_RE.exec(line)) !== null) {
      var start = m.index, token = m[0];
      if (m[3]) { // a bare URL: leave closing punctuation outside the link
        var trail = /[.,;:!?)]+$/.exec(token);
        if (trail) token = token.slice(0, -trail[0].length);
      }
      if (start > last) parent.appendChild(document.createTextNode(line.slice(last, start)));
      if (m[1]) parent.appendChild(linkNode(m[2], m[1]));
      else if (m[3]) parent.appendChild(linkNode(token, token));
      else parent.appendChild(el("strong", { text: token.slice(2, -2) }));
      last = start + token.length;
      LINK_RE.lastIndex = last;
    }
    if (last < line.length) parent.appendChild(document.createTextNode(line.slice(last)));
  }
  // Paragraphs split on blank lines; lines starting with "- " or "• " become a real list.
  var BULLET_RE = /^\s*(?:[-*\u2022])\s+/;
  function renderText(text, parent) {
    String(text).split(/\n{2,}/).forEach(function (para) {
      var p = null, ul = null;
      para.split("\n").forEach(function (line) {
        if (BULLET_RE.test(line)) {
          if (!ul) { ul = el("ul"); parent.appendChild(ul); p = null; }
          var li = el("li");
          renderInline(line.replace(BULLET_RE, ""), li);
          ul.appendChild(li);
          return;
        }
        ul = null;
        if (p) p.appendChild(el("br"));
        else { p = el("p"); parent.appendChild(p); }
        renderInline(line, p);
      });
    });
  }

  // --- the widget's DOM ------------------------------------------------------------------------

  if (base && !document.querySelector("link[data-loket-css]")) {
    document.head.appendChild(el("link", { rel: "stylesheet", href: base + "/widget.css", "data-loket-css": "1" }));
  }

  var titleId = "loket-title", logId = "loket-log", inputId = "loket-input", noticeId = "loket-notice";
  var launcher = el("button", { type: "button", className: "loket-launcher", "aria-expanded": "false",
    "aria-controls": "loket-panel" }, [icon(ICON_CHAT), el("span", { text: "Chat met Loket" })]);

  var deleteBtn = el("button", { type: "button", className: "loket-delete", text: "Gesprek verwijderen" });
  var closeBtn = el("button", { type: "button", className: "loket-close", "aria-label": "Chat sluiten", text: "Sluiten" });
  var header = el("div", { className: "loket-header" }, [
    el("h2", { className: "loket-title", id: titleId }, [
      "Loket", el("span", { className: "loket-subtitle", text: "Digitale assistent, geen mens" })
    ]),
    el("div", { className: "loket-header-actions" }, [closeBtn])
  ]);

  var confirmYes = el("button", { type: "button", className: "loket-choice", text: "Ja, verwijderen" });
  var confirmNo = el("button", { type: "button", className: "loket-choice", text: "Nee, bewaren" });
  var confirmBar = el("div", { className: "loket-confirm", hidden: "hidden" }, [
    el("p", { id: "loket-confirm-text", text: "Wilt u dit gesprek verwijderen? Dit kan niet ongedaan worden gemaakt." }),
    confirmYes, confirmNo
  ]);

  var log = el("div", { className: "loket-log", id: logId, role: "log", "aria-live": "polite",
    "aria-relevant": "additions", "aria-label": "Gesprek met Loket", tabindex: "0" });
  var typing = el("div", { className: "loket-typing", hidden: "hidden" }, [
    el("span", { className: "loket-dots", "aria-hidden": "true" }, [el("span"), el("span"), el("span")]),
    el("span", { text: "Loket is aan het typen…" })
  ]);
  var notice = el("p", { className: "loket-notice", id: noticeId, role: "alert" });
  var input = el("textarea", { className: "loket-input", id: inputId, name: "loket-message", rows: "1",
    placeholder: "Typ uw vraag…", autocomplete: "off", "aria-describedby": noticeId + " loket-counter" });
  var counter = el("p", { className: "loket-counter", id: "loket-counter", hidden: "hidden" });
  var sendBtn = el("button", { type: "submit", className: "loket-send", text: "Verstuur" });
  var form = el("form", { className: "loket-form", novalidate: "novalidate" }, [
    el("label", { className: "loket-sr-only", "for": inputId, text: "Uw vraag aan Loket" }), input, sendBtn
  ]);
  var humanBtn = el("button", { type: "button", className: "loket-human", text: HUMAN.title });
  var privacyLink = el("a", { href: base + "/privacy", target: "_blank", rel: "noopener" }, [
    "Privacy", el("span", { className: "loket-sr-only", text: "verklaring (opent in een nieuw venster)" })
  ]);
  var footer = el("div", { className: "loket-footer" }, [humanBtn, deleteBtn, privacyLink]);

  var panel = el("div", { className: "loket-panel", id: "loket-panel", role: "dialog", "aria-modal": "false",
    "aria-labelledby": titleId, hidden: "hidden" }, [header, log, typing, notice, counter, form, confirmBar, footer]);
  var root = el("aside", { className: "loket-root", lang: "nl", "aria-label": "Chat met Loket" }, [launcher, panel]);
  root.style.setProperty("--loket-accent", accent); // CSSOM, allowed by a strict style-src CSP

  // --- rendering messages ----------------------------------------------------------------------

  function normalizeBot(msg) {
    // REST: {text, buttons, image, custom}; socket.io: {text, quick_replies, attachment}.
    var out = { text: "", buttons: [], image: "" };
    if (!msg || typeof msg !== "object") return out;
    if (typeof msg.text === "string") out.text = msg.text;
    else if (msg.custom && typeof msg.custom.text === "string") out.text = msg.custom.text;
    var buttons = msg.buttons || msg.quick_replies || (msg.custom && msg.custom.buttons) || [];
    if (Array.isArray(buttons)) {
      out.buttons = buttons.filter(function (b) { return b && typeof b.title === "string"; }).map(function (b) {
        return { title: b.title.slice(0, 200), payload: String(b.payload || b.title).slice(0, 1000),
          url: safeUrl(b.url) };
      });
    }
    var image = msg.image || (msg.attachment && msg.attachment.payload && msg.attachment.payload.src);
    if (typeof image === "string" && /^https?:\/\//.test(image)) out.image = image;
    return out;
  }

  function renderChoices(choices, item) {
    var group = el("div", { className: "loket-choices", role: "group", "aria-label": "Kies een antwoord" });
    choices.forEach(function (choice) {
      var url = safeUrl(choice.url) || (/^https?:\/\//.test(choice.payload) ? safeUrl(choice.payload) : "");
      if (url) {
        var a = linkNode(url, choice.title);
        a.className = "loket-choice";
        group.appendChild(a);
        return;
      }
      var b = el("button", { type: "button", className: "loket-choice", text: choice.title });
      b.addEventListener("click", function () { send(choice.payload, choice.title); });
      group.appendChild(b);
    });
    return group;
  }

  // Rasa may answer with several messages; the rating goes under the last one and covers them all.
  function turnItems(item) {
    return history.filter(function (h) { return h.from === "bot" && h.turn === item.turn && h.text && h.id <= item.id; });
  }
  function isLastOfTurn(item) {
    for (var i = history.length - 1; i >= 0; i--) {
      var h = history[i];
      if (h.turn !== item.turn) continue;
      if (h.from === "bot" && h.text) return h.id === item.id;
    }
    return false;
  }
  function answerText(item) {
    return turnItems(item).map(function (h) { return h.text; }).join("\n\n").slice(0, 4000);
  }

  function repeatsPersonalData(text) {
    return NO_RATING.some(function (marker) { return text.indexOf(marker) !== -1; });
  }

  function renderRating(item, wrap) {
    var rating = el("div", { className: "loket-rating", role: "group", "aria-label": "Heeft dit antwoord u geholpen?" });
    var up = el("button", { type: "button", className: "loket-rate loket-rate-up", "aria-label": "Dit antwoord helpt mij",
      title: "Dit antwoord helpt mij", "aria-pressed": item.vote === "up" ? "true" : "false" }, [icon(ICON_THUMB)]);
    var down = el("button", { type: "button", className: "loket-rate loket-rate-down", "aria-label": "Dit antwoord helpt mij niet",
      title: "Dit antwoord helpt mij niet", "aria-pressed": item.vote === "down" ? "true" : "false" }, [icon(ICON_THUMB)]);
    var thanks = el("span", { className: "loket-rating-thanks", text: item.vote ? "Bedankt voor uw reactie." : "" });
    function vote(value) {
      if (item.vote) return; // one vote per answer
      item.vote = value;
      persist();
      up.setAttribute("aria-pressed", value === "up" ? "true" : "false");
      down.setAttribute("aria-pressed", value === "down" ? "true" : "false");
      thanks.textContent = value === "down"
        ? "Bedankt. Wij gebruiken dit om de antwoorden te verbeteren. Liever met een mens praten? Kies 'Praat met een mens'."
        : "Bedankt voor uw reactie.";
      if (thanks.scrollIntoView) thanks.scrollIntoView({ block: "nearest" });
      postJson("/api/feedback", { sender_id: senderId, message_text: answerText(item), question: item.question || "",
        vote: value, gemeente: gemeente });
    }
    up.addEventListener("click", function () { vote("up"); });
    down.addEventListener("click", function () { vote("down"); });
    rating.appendChild(up);
    rating.appendChild(down);
    rating.appendChild(thanks);
    wrap.appendChild(rating);
  }

  function renderItem(item) {
    var wrap = el("div", { className: "loket-msg loket-msg-" + item.from, "data-id": String(item.id) });
    var bubble = el("div", { className: "loket-bubble" });
    bubble.appendChild(el("span", { className: "loket-sr-only", text: item.from === "user" ? "U: " : "Loket: " }));
    if (item.from === "user") bubble.appendChild(el("p", { text: item.text }));
    else if (item.text) renderText(item.text, bubble);
    if (item.image) bubble.appendChild(el("img", { src: item.image, alt: "" }));
    if (item.text || item.image) wrap.appendChild(bubble);
    if (item.from === "bot" && item.buttons && item.buttons.length && !item.used) wrap.appendChild(renderChoices(item.buttons, item));
    if (item.from === "bot" && item.text && !item.local && (item.vote || isLastOfTurn(item)) &&
        !repeatsPersonalData(answerText(item))) renderRating(item, wrap);
    return wrap;
  }

  function greetingItem() {
    var text = "Hallo! Ik ben Loket, een digitale assistent. Ik ben een computerprogramma, geen mens. " +
      (greeting || "Ik help u met vragen over ondernemen met impact: regelingen, geld, inkoop en wie u verder kan helpen.") +
      "\n\nWat er met uw gegevens gebeurt, leest u in de [privacyverklaring](" + base + "/privacy).";
    return { id: 0, from: "bot", local: true, text: text, buttons: START_CHOICES, used: history.length > 0 };
  }

  function scrollToEnd() { log.scrollTop = log.scrollHeight; }

  function renderAll() {
    log.textContent = "";
    log.appendChild(renderItem(greetingItem()));
    history.forEach(function (item) { log.appendChild(renderItem(item)); });
    scrollToEnd();
  }

  function add(item) {
    item.id = nextId++;
    if (item.from === "user") turn += 1;
    item.turn = turn;
    if (item.from === "bot" && item.text) {
      // The earlier parts of this answer lose their (unused) rating buttons.
      history.forEach(function (h) {
        if (h.turn !== turn || h.vote || h.from !== "bot") return;
        var node = log.querySelector('[data-id="' + h.id + '"] .loket-rating');
        if (node) node.parentNode.removeChild(node);
      });
    }
    history.push(item);
    persist();
    log.appendChild(renderItem(item));
    scrollToEnd();
  }

  // Buttons of earlier answers are used up once the user says something new.
  function retireChoices() {
    var changed = false;
    history.forEach(function (item) { if (item.buttons && item.buttons.length && !item.used) { item.used = true; changed = true; } });
    Array.prototype.forEach.call(log.querySelectorAll(".loket-choices"), function (g) { g.parentNode.removeChild(g); });
    if (changed) persist();
  }

  var lastQuestion = "";
  (function () {
    for (var i = history.length - 1; i >= 0; i--) if (history[i].from === "user") { lastQuestion = history[i].text; return; }
  })();

  function addBot(msg) {
    var m = normalizeBot(msg);
    if (!m.text && !m.image && !m.buttons.length) return;
    add({ from: "bot", text: m.text, buttons: m.buttons, image: m.image, question: lastQuestion });
  }

  // --- typing indicator and notices ------------------------------------------------------------

  var answerTimer = null, quietTimer = null;
  function startWaiting() {
    typing.hidden = false;
    clearTimeout(answerTimer);
    answerTimer = setTimeout(function () {
      stopWaiting();
      showNotice("Er komt geen antwoord. Controleer uw internetverbinding en probeer het opnieuw.");
    }, ANSWER_TIMEOUT_MS);
  }
  function stopWaiting() {
    clearTimeout(answerTimer);
    clearTimeout(quietTimer);
    typing.hidden = true;
  }
  function gotPart() {
    clearTimeout(answerTimer);
    clearTimeout(quietTimer);
    quietTimer = setTimeout(stopWaiting, QUIET_MS);
  }
  function showNotice(text, info) {
    notice.textContent = text || "";
    notice.className = "loket-notice" + (info ? " loket-info" : "");
    input.setAttribute("aria-invalid", text && !info ? "true" : "false");
  }

  // --- transport: socket.io first, REST as fallback --------------------------------------------

  var socket = null, socketReady = false, socketFailed = !ioFactory || !rasaUrl;

  function metadata() { return gemeente ? { gemeente: gemeente } : {}; }

  function connect() {
    if (socket || socketFailed) return;
    try {
      socket = ioFactory(rasaUrl, { path: "/socket.io", transports: ["websocket", "polling"],
        reconnectionAttempts: 5, timeout: 8000, withCredentials: false });
    } catch (e) { socketFailed = true; return; }
    socket.on("connect", function () { socket.emit("session_request", { session_id: senderId }); });
    socket.on("session_confirm", function () { socketReady = true; });
    socket.on("disconnect", function () { socketReady = false; });
    socket.on("connect_error", function () {
      socketReady = false;
      if (!socket.connected) socketFailed = !socket.active; // no more retries: stay on REST
    });
    socket.on("bot_uttered", function (msg) { gotPart(); addBot(msg); });
  }

  function sendRest(text) {
    return fetch(rasaUrl + "/webhooks/rest/webhook", {
      method: "POST", credentials: "omit", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ sender: senderId, message: text, metadata: metadata() })
    }).then(function (resp) {
      // Refusals (too long, too many messages) come as a normal answer in Dutch: show it.
      return resp.json().then(function (messages) {
        if (!Array.isArray(messages) || (!resp.ok && !messages.length)) throw new Error("HTTP " + resp.status);
        return messages;
      });
    }).then(function (messages) {
      stopWaiting();
      messages.forEach(addBot);
    }).catch(function () {
      stopWaiting();
      showNotice("Loket is nu niet bereikbaar. Probeer het later opnieuw, of neem contact op met uw gemeente.");
    });
  }

  function postJson(path, body) {
    // No cookies: the feedback route needs no login, and a portal session must not come along.
    return fetch(base + path, { method: "POST", credentials: "omit",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) })
      .catch(function () { return null; });
  }

  function send(payload, shown) {
    var text = String(payload || "").trim();
    if (!text) { showNotice("Typ eerst uw vraag."); return false; }
    if (text.length > maxChars) {
      showNotice("Uw bericht is te lang: " + text.length + " tekens. Het mag maximaal " + maxChars +
        " tekens zijn. Maak het bericht korter en verstuur het opnieuw.");
      return false;
    }
    showNotice("");
    retireChoices();
    var label = (shown || text).slice(0, maxChars);
    lastQuestion = label;
    add({ from: "user", text: label });
    startWaiting();
    connect();
    if (socket && socket.connected && socketReady) {
      socket.emit("user_uttered", { message: text, session_id: senderId, metadata: metadata() });
    } else {
      sendRest(text);
    }
    input.focus();
    return true;
  }

  // --- open, close, delete ---------------------------------------------------------------------

  function isOpen() { return !panel.hidden; }
  function open() {
    panel.hidden = false;
    launcher.hidden = true;
    launcher.setAttribute("aria-expanded", "true");
    root.classList.add("loket-open");
    connect();
    scrollToEnd();
    input.focus();
  }
  function close() {
    panel.hidden = true;
    confirmBar.hidden = true;
    launcher.hidden = false;
    launcher.setAttribute("aria-expanded", "false");
    root.classList.remove("loket-open");
    launcher.focus();
  }

  function forget() {
    var old = senderId;
    postJson("/api/forget", { sender_id: old }); // server-side deletion; a 404 is fine
    history = [];
    persist();
    senderId = newSenderId();
    save("sender", senderId);
    nextId = 1;
    turn = 0;
    lastQuestion = "";
    stopWaiting();
    if (socket && socket.connected) socket.emit("session_request", { session_id: senderId });
    confirmBar.hidden = true;
    renderAll();
    showNotice("Uw gesprek is verwijderd.", true);
    input.focus();
  }

  launcher.addEventListener("click", open);
  closeBtn.addEventListener("click", close);
  deleteBtn.addEventListener("click", function () { confirmBar.hidden = false; confirmYes.focus(); });
  confirmNo.addEventListener("click", function () { confirmBar.hidden = true; deleteBtn.focus(); });
  confirmYes.addEventListener("click", forget);
  humanBtn.addEventListener("click", function () { send(HUMAN.payload, HUMAN.title); });
  panel.addEventListener("keydown", function (event) {
    if (event.key === "Escape" || event.key === "Esc") { event.preventDefault(); close(); }
  });
  form.addEventListener("submit", function (event) {
    event.preventDefault();
    if (send(input.value)) { input.value = ""; updateCounter(); }
  });
  input.addEventListener("keydown", function (event) {
    // Enter sends; Shift+Enter adds a new line; not while an input method is composing.
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (send(input.value)) { input.value = ""; updateCounter(); }
    }
  });
  function updateCounter() {
    var n = input.value.length;
    counter.hidden = n < maxChars * 0.8;
    counter.textContent = n + " van maximaal " + maxChars + " tekens";
    counter.classList.toggle("loket-over", n > maxChars);
  }
  input.addEventListener("input", updateCounter);

  function mount() {
    document.body.appendChild(root);
    renderAll();
  }
  if (document.body) mount();
  else document.addEventListener("DOMContentLoaded", mount);

  // A small API for the host page and tests.
  window.Loket = { open: open, close: close, isOpen: isOpen, senderId: function () { return senderId; },
    transport: function () { return socket && socketReady ? "socket.io" : "rest"; } };
})(typeof LOKET_SERVER_CONFIG !== "undefined" ? LOKET_SERVER_CONFIG : {},
   typeof loketIo !== "undefined" ? loketIo : window.io);
