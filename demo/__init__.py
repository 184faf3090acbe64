"""The classroom demo's run logic, beside app.py: request checks, the sampling thread, frames, export,
the schedule picture (all without Gradio), and the handlers that app.py wires to Gradio's events (demo.handlers)."""
