// Batch Studio's live updates: follow the workspace's event stream (server-sent events from
// the app's own route) and tell the page, by a trigger, only when the workspace changed.
// No timer ticks while nothing changes. A broken stream is reopened with backoff (1 s, 2 s,
// 4 s … 30 s). Nothing from the stream is ever put into the page: it carries only a version
// number or an opaque word, compared as text.
//
// One stream per page: this function runs again on every rerun of the fragment it sits in,
// and a stream opened per run would pile up (a browser allows six connections to a host; the
// seventh request, a reload included, would wait for ever). So the stream lives on the window
// and each run only hands it the newest trigger and what the page has seen; it is reopened
// only when the address changes, and closed when the component goes away.
export default function (component) {
  const { data, setTriggerValue } = component;
  if (!data || typeof data.url !== "string" || !data.url.startsWith("/api/events/")) {
    return undefined;
  }
  const live = (window.__batchStudioLive = window.__batchStudioLive || {
    url: "",
    source: null,
    timer: null,
    delay: 1000,
    seen: "",
    trigger: null,
    onLoad: null,
  });
  live.trigger = setTriggerValue;
  live.seen = String(data.seen);

  const close = () => {
    clearTimeout(live.timer);
    live.timer = null;
    if (live.onLoad) window.removeEventListener("load", live.onLoad);
    live.onLoad = null;
    if (live.source) live.source.close();
    live.source = null;
    live.url = "";
  };
  const open = () => {
    const source = new EventSource(live.url);
    live.source = source;
    source.onmessage = (event) => {
      live.delay = 1000;
      if (event.data !== live.seen) {
        live.seen = event.data;
        if (live.trigger) live.trigger("changed", event.data);
      }
    };
    source.onerror = () => {
      source.close();
      if (live.source !== source) return; // replaced or closed meanwhile
      live.source = null;
      live.timer = setTimeout(open, live.delay);
      live.delay = Math.min(live.delay * 2, 30000);
    };
  };

  if (live.url !== data.url) {
    close();
    live.url = data.url;
    live.delay = 1000;
    // A stream opened before the page's load event keeps the page "loading": wait for it.
    if (document.readyState === "complete") {
      open();
    } else {
      live.onLoad = () => {
        live.onLoad = null;
        open();
      };
      window.addEventListener("load", live.onLoad, { once: true });
    }
  }
  return () => {
    // Unmounted (or about to run again): a later run reopens it if the page still wants it.
    close();
  };
}
