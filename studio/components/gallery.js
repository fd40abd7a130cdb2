// Batch Studio's approval gallery: every scene's pictures are the controls. Click or tap a
// picture to approve it (a checkmark over it, a ring, the scene's other pictures dimmed);
// click it again to withdraw the approval. Keys: J/K (or ↑/↓ inside the gallery) move between
// scenes, ←/→ between pictures, 1–3 approve, Space/Enter toggle, V opens the viewer, Esc
// closes it. Keys act only on a scene that is on screen.
//
// It only sends intents (setStateValue("intent", …)); the page asks the services, which decide
// and save, and the gallery is drawn again from the stored state. A click is painted at once
// and the redraw confirms or undoes it. Every text from a person or a server (scene ids,
// prompts, reasons) is set with textContent, never as HTML; picture addresses come from the
// app (its own signed picture links, or a real backend's https links) and are set as src/href.
export default function (component) {
  const { data, parentElement, setStateValue } = component;
  if (!data || !Array.isArray(data.scenes)) return undefined;
  const g = (window.__batchStudioGallery = window.__batchStudioGallery || {
    focus: 0,
    pick: 0,
    viewer: -1,
  });
  g.root = parentElement;
  g.data = data;
  g.send = (kind, scene, key) =>
    setStateValue("intent", {
      kind,
      scene: scene || "",
      key: key || "",
      n: `${Date.now()}-${Math.random().toString(36).slice(2, 10)}`,
    });

  const signature = JSON.stringify(data);
  if (parentElement.__bsSignature !== signature) {
    parentElement.__bsSignature = signature;
    draw(g);
  }
  if (g.onKey) document.removeEventListener("keydown", g.onKey, true);
  g.onKey = (event) => onKey(g, event);
  document.addEventListener("keydown", g.onKey, true);
  return () => {
    if (g.onKey) document.removeEventListener("keydown", g.onKey, true);
    g.onKey = null;
  };
}

function el(tag, props, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (name === "text") node.textContent = String(value);
    else if (name === "className") node.className = value;
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? "" : String(value));
  }
  for (const child of children) if (child) node.appendChild(child);
  return node;
}

function safeSrc(src) {
  // only the app's own picture route or an https address; anything else shows no picture
  return typeof src === "string" && (src.startsWith("/api/pictures/") || src.startsWith("https://"))
    ? src
    : "";
}

function picture(shot, className) {
  const src = safeSrc(shot.src);
  if (!src) return el("span", { className: "missing", text: shot.note || "Not available" });
  const img = el("img", {
    className,
    src,
    alt: "",
    loading: "eager", // at most 30 pictures, cached: all there when the person scrolls
    decoding: "async",
    draggable: "false",
  });
  // A picture the route could not fetch yet (it says why, but an <img> cannot show that):
  // say so in its place and ask again later (15 s, 30 s … 5 min); its link stays the same.
  let wait = 15000;
  img.addEventListener("error", () => {
    if (!img.isConnected) return;
    const note = el("span", {
      className: "missing",
      text: `#${shot.variant} could not be loaded yet; it is tried again in ${wait / 1000} s.`,
    });
    img.replaceWith(note);
    setTimeout(() => {
      if (!note.isConnected) return;
      img.src = `${src}${src.includes("?") ? "&" : "?"}retry=${Date.now()}`;
      note.replaceWith(img);
    }, wait);
    wait = Math.min(wait * 2, 300000);
  });
  return img;
}

function shotButton(g, scene, shot, small) {
  const button = el(
    "button",
    {
      type: "button",
      className: small ? "shot small" : "shot",
      "aria-pressed": shot.approved ? "true" : "false",
      "aria-label": shot.label,
      title: shot.approved ? `${shot.label}: approved — click to withdraw` : shot.label,
      "data-key": shot.key,
      onclick: () => toggle(g, scene, shot, button),
    },
    picture(shot),
    el("span", { className: "num", text: `#${shot.variant}`, "aria-hidden": "true" }),
    el("span", { className: "check", text: "✓", "aria-hidden": "true" }),
  );
  return button;
}

function toggle(g, scene, shot, button) {
  const card = button.closest("section.scene");
  const wasOn = button.getAttribute("aria-pressed") === "true";
  for (const other of card.querySelectorAll("button.shot")) {
    other.setAttribute("aria-pressed", "false");
  }
  if (!wasOn) button.setAttribute("aria-pressed", "true");
  card.classList.toggle("has-pick", !wasOn);
  g.send(wasOn ? "unapprove" : "approve", scene.id, shot.key);
}

function draw(g) {
  const { data, root } = g;
  const keep = root.querySelector(".gallery");
  const top = el("div", { className: "gallery", role: "region", "aria-label": "Approve one image per scene" });
  const bar = el("div", { className: "bar" });
  bar.appendChild(el("span", { className: "summary", text: data.summary || "", "aria-live": "polite" }));
  bar.appendChild(
    el("button", {
      type: "button",
      className: "next",
      text: "Next unapproved scene",
      disabled: !data.scenes.some((s) => !s.approved),
      onclick: () => {
        const n = data.scenes.length;
        for (let step = 1; step <= n; step += 1) {
          const i = (g.focus + step) % n;
          if (!data.scenes[i].approved) return focusScene(g, i, true);
        }
        return undefined;
      },
    }),
  );
  if (data.video) {
    bar.appendChild(
      el("button", {
        type: "button",
        className: "video primary",
        text: data.video.label,
        disabled: !data.video.enabled,
        title: data.video.reason || undefined,
        onclick: () => g.send("video"),
      }),
    );
  }
  top.appendChild(bar);
  if (data.video && !data.video.enabled && data.video.reason) {
    top.appendChild(el("p", { className: "reason", text: data.video.reason }));
  }
  top.appendChild(
    el("p", {
      className: "hint",
      text:
        "Click a picture to approve it, click it again to withdraw. Keys: J / K scene, " +
        "← / → picture, 1–3 approve, Space toggle, V full size, Esc close.",
    }),
  );
  data.scenes.forEach((scene, i) => top.appendChild(sceneCard(g, scene, i)));
  top.appendChild(el("div", { className: "viewer", hidden: true, role: "dialog", "aria-modal": "true" }));
  if (keep) keep.replaceWith(top);
  else root.appendChild(top);
  if (g.focus >= data.scenes.length) g.focus = 0;
  markFocus(g);
  if (g.viewer >= 0 && g.viewer < data.scenes.length) openViewer(g, g.viewer);
}

function sceneCard(g, scene, i) {
  const newest = scene.takes[0] || [];
  const card = el("section", {
    className: scene.approved ? "scene has-pick" : "scene",
    "data-i": i,
    "aria-label": scene.id,
  });
  const head = el("div", { className: "head" });
  head.appendChild(el("h3", { text: scene.id }));
  head.appendChild(el("span", { className: "state", text: scene.state || "" }));
  head.appendChild(
    el("button", { type: "button", className: "small-btn", text: "View full size", onclick: () => openViewer(g, i) }),
  );
  head.appendChild(
    el("button", {
      type: "button",
      className: "small-btn",
      text: "Re-roll",
      title:
        "Load this scene alone as a new batch: it gets its own dry-run, cost and confirmation; " +
        "other scenes and approvals stay.",
      onclick: () => g.send("reroll", scene.id),
    }),
  );
  card.appendChild(head);
  if (scene.prompt) card.appendChild(el("p", { className: "prompt", text: scene.prompt }));
  const row = el("div", { className: "row" });
  for (const shot of newest) row.appendChild(shotButton(g, scene, shot, false));
  card.appendChild(row);
  if (scene.takes.length > 1) {
    const earlier = el("div", { className: "earlier" });
    earlier.appendChild(el("p", { className: "caption", text: `Earlier takes (${scene.takes.length - 1})` }));
    for (const take of scene.takes.slice(1)) {
      const strip = el("div", { className: "strip" });
      strip.appendChild(el("span", { className: "caption", text: `Take ${take.length ? take[0].take : ""}` }));
      for (const shot of take) strip.appendChild(shotButton(g, scene, shot, true));
      earlier.appendChild(strip);
    }
    card.appendChild(earlier);
  }
  card.addEventListener("focusin", () => {
    if (g.focus !== i) {
      g.focus = i;
      markFocus(g);
    }
  });
  return card;
}

function cards(g) {
  return [...g.root.querySelectorAll("section.scene")];
}

function markFocus(g) {
  cards(g).forEach((card, i) => card.classList.toggle("focused", i === g.focus));
}

function onScreen(node) {
  const box = node.getBoundingClientRect();
  return box.bottom > 40 && box.top < window.innerHeight - 40 && box.height > 0;
}

function focusScene(g, i, scroll) {
  const all = cards(g);
  if (!all.length) return;
  g.focus = Math.max(0, Math.min(all.length - 1, i));
  g.pick = 0;
  markFocus(g);
  const card = all[g.focus];
  if (scroll) card.scrollIntoView({ block: "center", behavior: "smooth" });
  const first = card.querySelector(".row button.shot");
  if (first) first.focus({ preventScroll: !scroll });
}

function onKey(g, event) {
  if (event.defaultPrevented || event.ctrlKey || event.metaKey || event.altKey) return;
  if (!g.root || !g.root.host || !g.root.host.isConnected) return;
  const path = event.composedPath();
  const target = path[0];
  if (target && (target.isContentEditable || /^(INPUT|TEXTAREA|SELECT)$/.test(target.tagName || ""))) return;
  const inside = path.includes(g.root.host);
  const viewer = g.root.querySelector(".viewer");
  const viewing = viewer && !viewer.hidden;
  if (!viewing && document.querySelector("[role=dialog]")) return; // the page's own dialog
  const all = cards(g);
  if (!all.length) return;
  const key = event.key;
  const scene = g.data.scenes[g.focus];
  const visible = all[g.focus] && onScreen(all[g.focus]);
  const act = () => {
    event.preventDefault();
    event.stopPropagation();
  };
  if (viewing) {
    if (key === "Escape") return act(), closeViewer(g);
    if (key === "j" || key === "J") return act(), openViewer(g, Math.min(g.viewer + 1, all.length - 1));
    if (key === "k" || key === "K") return act(), openViewer(g, Math.max(g.viewer - 1, 0));
    if (key === "ArrowRight" || key === "ArrowLeft") {
      act();
      const figures = [...viewer.querySelectorAll("figure")];
      const at = figures.findIndex((f) => f.classList.contains("current"));
      const next = Math.max(0, Math.min(figures.length - 1, at + (key === "ArrowRight" ? 1 : -1)));
      figures.forEach((f, n) => f.classList.toggle("current", n === next));
      if (figures[next]) figures[next].scrollIntoView({ block: "nearest", inline: "center" });
      return undefined;
    }
    if (/^[1-3]$/.test(key)) {
      const button = viewer.querySelectorAll("button.approve")[Number(key) - 1];
      if (button) act(), button.click();
    }
    return undefined;
  }
  const down = key === "j" || key === "J" || (inside && key === "ArrowDown");
  const up = key === "k" || key === "K" || (inside && key === "ArrowUp");
  if (down || up) {
    act();
    if (!visible) {
      const first = all.findIndex(onScreen);
      return focusScene(g, first >= 0 ? first : 0, true);
    }
    return focusScene(g, g.focus + (down ? 1 : -1), true);
  }
  if (!visible || !scene) return undefined;
  const shots = [...all[g.focus].querySelectorAll(".row button.shot")];
  if (inside && (key === "ArrowRight" || key === "ArrowLeft")) {
    act();
    const at = Math.max(0, shots.indexOf(g.root.activeElement));
    const next = Math.max(0, Math.min(shots.length - 1, at + (key === "ArrowRight" ? 1 : -1)));
    if (shots[next]) shots[next].focus();
    return undefined;
  }
  if (/^[1-3]$/.test(key)) {
    const button = shots[Number(key) - 1];
    if (button) {
      act();
      if (button.getAttribute("aria-pressed") !== "true") button.click();
    }
    return undefined;
  }
  if ((key === " " || key === "Enter") && !inside) {
    const button = shots[Math.max(0, shots.indexOf(g.root.activeElement))];
    if (button) act(), button.click();
    return undefined;
  }
  if (key === "v" || key === "V") return act(), openViewer(g, g.focus);
  return undefined;
}

function openViewer(g, i) {
  const viewer = g.root.querySelector(".viewer");
  const scene = g.data.scenes[i];
  if (!viewer || !scene) return;
  g.viewer = i;
  g.focus = i;
  markFocus(g);
  viewer.replaceChildren();
  viewer.setAttribute("aria-label", `Full size: ${scene.id}`);
  const panel = el("div", { className: "panel" });
  const close = el("button", { type: "button", className: "close", text: "✕", "aria-label": "Close the viewer", onclick: () => closeViewer(g) });
  panel.appendChild(el("div", { className: "vhead" }, el("h3", { text: scene.id }), close));
  if (scene.prompt) panel.appendChild(el("p", { className: "prompt", text: scene.prompt }));
  const row = el("div", { className: "vrow" });
  (scene.takes[0] || []).forEach((shot, n) => {
    const img = picture(shot, "full");
    if (img.tagName === "IMG") {
      img.src = safeSrc(shot.full) || img.src;
      img.loading = "eager";
      img.addEventListener("load", () => {
        img.style.maxWidth = `min(100%, ${img.naturalWidth * 2}px)`;
      });
    }
    const approve = el("button", {
      type: "button",
      className: shot.approved ? "approve primary" : "approve",
      "aria-pressed": shot.approved ? "true" : "false",
      text: shot.approved ? `✓ #${shot.variant} approved` : `Approve #${shot.variant}`,
      onclick: () => {
        g.send(shot.approved ? "unapprove" : "approve", scene.id, shot.key);
      },
    });
    const actions = el("div", { className: "actions" }, approve);
    const href = safeSrc(shot.download);
    if (href) actions.appendChild(el("a", { className: "download", href, download: "", text: "Download" }));
    row.appendChild(
      el("figure", { className: n === 0 ? "current" : "" }, img, el("figcaption", { text: `#${shot.variant}` }), actions),
    );
  });
  panel.appendChild(row);
  panel.appendChild(el("p", { className: "hint", text: "J / K scene, ← / → picture, 1–3 approve, Esc close." }));
  viewer.appendChild(panel);
  viewer.hidden = false;
  viewer.onclick = (event) => {
    if (event.target === viewer) closeViewer(g);
  };
  close.focus({ preventScroll: true });
}

function closeViewer(g) {
  const viewer = g.root.querySelector(".viewer");
  if (viewer) {
    viewer.hidden = true;
    viewer.replaceChildren();
  }
  const was = g.viewer;
  g.viewer = -1;
  if (was >= 0) focusScene(g, was, false);
}
