"""Start app.py, ask for a side-by-side 500-step run as soon as the page serves, then a second one.

    python scripts/first_run_timing.py      (from the repository root; uses port 7862)

Prints when the page served, the first run's first frame and end (on the plain path while the fast
path compiles), and the second run's time. Times include writing the GIF and MP4 at the end of a run.
"""
import os
import subprocess
import sys
import time
import urllib.request

from gradio_client import Client

port = "7862"
env = {**os.environ, "GRADIO_SERVER_PORT": port}
t0 = time.perf_counter()
p = subprocess.Popen([sys.executable, "app.py"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
url = f"http://127.0.0.1:{port}/"
while True:
    try:
        urllib.request.urlopen(url, timeout=1); break
    except Exception:
        time.sleep(0.1)
t_serve = time.perf_counter() - t0
c = Client(url, verbose=False)
t1 = time.perf_counter(); first = None
job = c.submit("DDPM", 500, 0, 16, "any", True, 1.0, True, "x_t", "all", api_name="/denoise")
for out in job:
    if first is None: first = time.perf_counter() - t1
res = job.result()
print(f"serving after {t_serve:.1f} s; first run asked at once: first frame {first:.2f} s, done after {time.perf_counter()-t1:.1f} s; status: {res[2]}")
t1 = time.perf_counter(); res = c.predict("DDPM", 500, 1, 16, "any", True, 1.0, True, "x_t", "all", api_name="/denoise")
print(f"second run: {time.perf_counter()-t1:.1f} s; status: {res[2]}")
p.terminate()
