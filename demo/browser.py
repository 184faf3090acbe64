"""What runs in the browser besides Gradio's own: the page's scripts and styles (app.py wires them in)."""

# On load: the projector view (`present=1`) and the language a link asks for (`lang=en|zh`). Gradio picks its labels'
# language from the browser's and offers no switch to code, so the script calls its own changeLocale, from the
# module the page has already loaded (the same instance, so the same labels); Gradio is pinned (requirements.txt).
ON_LOAD = """async () => {
  const q = new URLSearchParams(location.search);
  document.body.classList.toggle('present', q.get('present') === '1');
  const lang = {en: 'en', zh: 'zh-CN'}[q.get('lang')];
  const core = performance.getEntriesByType('resource').map(e => e.name).find(n => /\\/assets\\/core-[^/]*\\.js$/.test(n));
  if (lang && core) (await import(core)).changeLocale(lang);  // before the server's settings arrive
}"""

# After the link's settings are in (`.then` of the load): press Run if the address asks. From the address, not from a
# gr.State: a State's value stays on the server.
RUN_IF_ASKED = "() => { if (new URLSearchParams(location.search).get('run') === '1') document.getElementById('run').click(); }"

# After the first run of the page: the address's action, once.
ACTION_AFTER_RUN = """() => {
  const action = new URLSearchParams(location.search).get('action');
  if ((action === 'forward' || action === 'race') && !window.ddpmLinkActed) {
    window.ddpmLinkActed = true;
    setTimeout(() => document.getElementById(action).click(), 0);
  }
}"""

# The link's query made a whole address, copied to the clipboard where the page may, and shown.
COPY_LINK = """(query) => {
  const url = location.origin + location.pathname + query;
  navigator.clipboard?.writeText(url).catch(() => {});
  return url;
}"""

def stage_on_load(page: str) -> str:
    """The stage's js_on_load: hand its props to the page's sampler (demo/web/page.js), which draws browser runs into them;
    and a click on a picture sends the image pixel under it (the picture is drawn `object-fit: contain`, scaled up)."""
    return f"""import({page!r}).then(m => m.attach(props)).catch(e => console.warn('ddpm: no browser sampler:', e));
element.addEventListener('click', (e) => {{
  const img = e.target.closest('img');
  if (!img || !img.naturalWidth) return;
  const r = img.getBoundingClientRect();
  const scale = Math.min(r.width / img.naturalWidth, r.height / img.naturalHeight);
  const left = r.left + (r.width - img.naturalWidth * scale) / 2, top = r.top + (r.height - img.naturalHeight * scale) / 2;
  const x = Math.floor((e.clientX - left) / scale), y = Math.floor((e.clientY - top) / scale);
  if (x >= 0 && y >= 0 && x < img.naturalWidth && y < img.naturalHeight) trigger('click', {{x, y, width: img.naturalWidth}});
}});"""


def run_in_browser(page: str, inputs: int) -> str:
    """The Run press's preprocessing: the page's sampler computes the run where the plan allows, and returns the handler's
    `inputs` with its frames last; on any failure the inputs go as they are, and the server computes. Gradio passes the
    outputs' values after the inputs: only the inputs go back."""
    return f"""async (...args) => {{
  const inputs = args.slice(0, {inputs});
  try {{ return await (await import({page!r})).run(inputs); }}
  catch (e) {{ console.warn('ddpm: computing on the server:', e); inputs[{inputs} - 1] = ''; return inputs; }}
}}"""


STOP_IN_BROWSER = "() => { window.ddpmPage?.stop(); }"

TOGGLE_CONTROLS = "() => { document.body.classList.toggle('show-controls'); }"

# The projector view: the stage across the width, large captions and status, the rest folded behind one toggle.
# !important: Gradio adds a scoped copy of each rule, which would otherwise outrank these.
PAGE_CSS = """
#present-toggle { display: none; }
body.present #present-toggle { display: inline-flex !important; }
body.present:not(.show-controls) .controls, body.present:not(.show-controls) .fold { display: none !important; }
body.present .stage img, body.present .stage .empty { height: 72vh !important; }
body.present .stage figcaption { font-size: 28px !important; line-height: 1.3 !important; }
body.present #status, body.present #status p { font-size: 28px !important; line-height: 1.3 !important; }
/* A phone (or any narrow window): Run, the stage and the status first, the controls after them; the two arms one
   above the other, each the screen's width, so that a sprite pixel is several screen pixels (tests/test_browser.py). */
@media (max-width: 640px) {
  .controls { order: 2; }
  .stage { flex-direction: column; }
  .stage img, .stage .empty { width: 100%; height: auto !important; aspect-ratio: 1; }
}
"""
