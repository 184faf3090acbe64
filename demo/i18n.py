"""The demo's words in English and Simplified Chinese: the page's static text through Gradio's own i18n,
and the lines Python writes while a run goes (status lines, errors) in the viewer's language.

The lesson's symbols stay as they are in both (x_t, ε̂, x̂0, s1, s2, s3, λ, t), and the Chinese uses the
lesson's own terms: 噪声, 去噪, 采样, 时间步长, 噪声调度, 缩放因子, 预测的噪声.
"""
from __future__ import annotations

import functools
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the run code (demo/serving.py, demo/runner.py) uses these words without Gradio
    import gradio as gr

EN, ZH = "en", "zh-CN"

PAGE = {
    EN: {
        "intro": "# How a diffusion model samples\n"
                 "A U-Net predicts the noise ε̂ in a noisy sprite; each step removes it and **adds back a little fresh noise**: "
                 "x<sub>t−1</sub> = s1·(x<sub>t</sub> − s2·ε̂) + s3·z, for t = 500 … 1 (DDPM; *How Diffusion Models Work*, lesson 1). "
                 "On the right the same start without the fresh noise (z = 0): watch it collapse into pale blobs "
                 "and the same few sprites over and over.",
        "sampler": "sampler", "steps": "denoising steps (fewer = respaced)", "seed": "seed", "dice": "random seed",
        "sprites": "sprites", "class": "class",
        "guidance": "class guidance w (classifier-free; with a class only, twice the work)",
        "mix": "mix: a weight per class (with class = mix), as in the course's lesson 3",
        "add_noise": "add noise back (s3·z)", "noise_scale": "extra-noise scale λ (multiplies s3·z)",
        "side_by_side": "side by side with z = 0 (DDPM)", "run": "Run", "stop": "Stop", "press_run": "Press **Run**.",
        "show": "show", "sprite": "sprite", "scrub": "scrub through the run",
        "forward_source": "forward process of the sprites of", "forward": "Forward process: noise them, t = 0 … 500",
        "compare": "the forward process beside the run at t", "race_ddpm": "race: DDPM steps", "race_ddim": "race: DDIM steps",
        "race": "Race DDPM against DDIM from the same noise", "plot": "schedule (the orange line is the current t)",
        "files": "downloads: GIF, MP4, final grid",
        "view_x": "x_t", "view_eps": "predicted noise ε̂", "view_x0": "predicted x̂0", "all": "all",
        "any": "any (unconditional)", "mixed": "mixed (each class in turn)", "mix_choice": "mix (the weights below)",
        "hero": "hero", "creature": "creature", "food": "food", "weapon": "weapon", "item": "item",
        "last run": "last run", "seed_source": "seed", "examples": "Examples (their last frame, computed once)",
        "in_class": "In class: the lesson, a link a step",
        "in_class_steps": "1. [**Noise against z = 0**](?run=1): on the right, without the fresh noise, the sprites collapse: "
                          "the same few, over and over.\n"
                          "2. [**λ = 0.5**](?lambda=0.5&run=1), then [**λ = 1.5**](?lambda=1.5&run=1): too little noise, too much.\n"
                          "3. [**What the network sees**](?view=x0&run=1&t=250): the predicted x̂0, scrubbed back to t = 250.\n"
                          "4. [**The forward process**](?run=1&action=forward): the sprites dissolve into noise beside the run.\n"
                          "5. [**DDIM**](?run=1&action=race): the same kind of sprites in a twentieth of the steps.\n"
                          "6. [**A class with guidance**](?class=hero&w=4&run=1), then [**w = 0**](?class=hero&w=0&run=1).\n"
                          "7. [**Inside one step**](?run=1&sprite=3&pixel=8,8&t=250): one pixel's x_t, ε̂ and z with the "
                          "numbers put in, at t = 250, and its path over every t (open *Inside one step* below the stage).",
        "link": "Link to this", "pace": "playback", "pace_live": "as it computes", "pace_10": "over 10 s", "pace_30": "over 30 s",
        "link_box": "a link to these settings (copied)", "present_toggle": "⚙ settings",
        "compute": "where the sampling is computed", "compute_auto": "this browser if it can, else the server",
        "compute_browser": "this browser", "compute_server": "the server",
        "autoguidance": "autoguidance ω: guided by a weaker copy of itself",
        "pixel": "pixel X,Y of the chosen sprite (0 … 15 from the top left; or click one on the stage)",
        "inside": "Inside one step: one pixel's arithmetic",
        "guess": "What the network makes of it: its guess ε̂ against the true noise ε (lesson 2, training)",
        "autoguidance_info": "ε̂ = ε̂_weak + ω·(ε̂ − ε̂_weak), with a small, briefly trained copy of the net, in the middle "
                             "of the walk (t from 300 to 100), where the sprites' shapes are decided. Its mistakes are the "
                             "net's own, only bigger, so stepping away from them gives clean sprites in flat colours. Both "
                             "sides get it alike: the right side still collapses, now more into repeats than into blobs. "
                             "1 = the net alone.",
    },
    ZH: {
        "intro": "# 扩散模型如何采样\n"
                 "U-Net 预测带噪精灵图中的噪声 ε̂；每一步去噪时减去它，再**加回一点新的噪声**："
                 "x<sub>t−1</sub> = s1·(x<sub>t</sub> − s2·ε̂) + s3·z，t = 500 … 1（DDPM；《How Diffusion Models Work》第 1 课）。"
                 "右边是同一个起点、不加新噪声（z = 0）的采样：看它塌缩成模糊的色块，和一遍又一遍重复的同几个精灵图。",
        "sampler": "采样器", "steps": "去噪步数（更少 = 重新间隔的时间步长）", "seed": "随机种子", "dice": "换个种子",
        "sprites": "精灵图数量", "class": "类别",
        "guidance": "类别引导 w（无分类器引导；仅在选了类别时起作用，计算量加倍）",
        "mix": "混合：每个类别一个权重（类别选 mix 时），如课程第 3 课",
        "add_noise": "加回噪声 (s3·z)", "noise_scale": "额外噪声的缩放因子 λ（乘以 s3·z）",
        "side_by_side": "与 z = 0 并排对比（DDPM）", "run": "运行", "stop": "停止", "press_run": "请按 **运行**。",
        "show": "显示", "sprite": "精灵图", "scrub": "拖动回看整个采样过程",
        "forward_source": "对哪些精灵图做前向过程", "forward": "前向过程：逐步加噪声，t = 0 … 500",
        "compare": "在时间步长 t 处并排对比前向过程与采样", "race_ddpm": "比赛：DDPM 步数", "race_ddim": "比赛：DDIM 步数",
        "race": "DDPM 与 DDIM 从同一个噪声出发比赛", "plot": "噪声调度（橙色竖线是当前的 t）",
        "files": "下载：GIF、MP4、最终网格",
        "view_x": "x_t", "view_eps": "预测的噪声 ε̂", "view_x0": "预测的 x̂0", "all": "全部",
        "any": "任意（无条件）", "mixed": "轮流（每个类别依次）", "mix_choice": "混合（按下面的权重）",
        "hero": "英雄", "creature": "生物", "food": "食物", "weapon": "武器", "item": "物品",
        "last run": "上一次采样", "seed_source": "随机种子", "examples": "示例（最后一帧，只计算一次）",
        "in_class": "课堂：一步一个链接",
        "in_class_steps": "1. [**加噪声与 z = 0 对比**](?run=1)：右边不加新噪声，精灵图塌缩了：同几个图一遍又一遍。\n"
                          "2. [**λ = 0.5**](?lambda=0.5&run=1)，然后 [**λ = 1.5**](?lambda=1.5&run=1)：噪声太少，噪声太多。\n"
                          "3. [**网络看到了什么**](?view=x0&run=1&t=250)：预测的 x̂0，拖回到 t = 250。\n"
                          "4. [**前向过程**](?run=1&action=forward)：精灵图在采样旁边溶解成噪声。\n"
                          "5. [**DDIM**](?run=1&action=race)：只用二十分之一的步数，得到同一类精灵图。\n"
                          "6. [**带引导的类别**](?class=hero&w=4&run=1)，然后 [**w = 0**](?class=hero&w=0&run=1)。\n"
                          "7. [**一步之内**](?run=1&sprite=3&pixel=8,8&t=250)：一个像素的 x_t、ε̂ 和 z 代入数字的计算，"
                          "t = 250 时的一步，以及它在每个 t 上的轨迹（展开画面下方的 *一步之内*）。",
        "link": "复制链接", "pace": "播放速度", "pace_live": "边算边放", "pace_10": "10 秒放完", "pace_30": "30 秒放完",
        "link_box": "这些设置的链接（已复制）", "present_toggle": "⚙ 设置",
        "compute": "采样在哪里计算", "compute_auto": "能用本浏览器就用，否则用服务器",
        "compute_browser": "本浏览器", "compute_server": "服务器",
        "autoguidance": "自引导 ω：由一个更弱的自身副本引导",
        "pixel": "所选精灵图的像素 X,Y（从左上角起 0 … 15；或在画面上点击一个像素）",
        "inside": "一步之内：一个像素的计算",
        "guess": "网络怎么看：它预测的噪声 ε̂ 与真实的噪声 ε 对比（第 2 课，训练）",
        "autoguidance_info": "ε̂ = ε̂_weak + ω·(ε̂ − ε̂_weak)，其中 ε̂_weak 来自一个更小、训练更短的网络副本，只在采样的中段"
                             "（t 从 300 到 100，精灵图的形状在这里决定）使用。它的错误就是网络自己的错误，只是更大，所以远离它们"
                             "就得到颜色平整、干净的精灵图。左右两边同样使用：右边仍然塌缩，只是更多地变成重复的图，而不是模糊的"
                             "色块。1 = 只用网络本身。",
    },
}


@functools.cache
def page() -> gr.I18n:
    """The page's static text for Gradio's own i18n."""
    import gradio as gr

    return gr.I18n(**PAGE)


def label(key: str):
    """The page text for `key` in the viewer's language; a key the pages lack (a class of other weights) as it is."""
    return page()(key) if key in PAGE[EN] else key

# Lines Python writes during a run, by language; {…} are filled in by the caller.
LINES = {
    EN: {
        "start": "t = {t} · pure noise x_T · starting", "step": "t = {t} · step {done}/{total} · {rate:.0f} steps/s · {tail}",
        "left": "{seconds:.1f} s left", "done": "done",
        "queued": "t = {t} · pure noise x_T · waiting: {place} in line (the server runs as many runs at once as it can)",
        "shown": "{frames} frames kept · {where}", "on_server": "on the server ({engine})",
        "in_browser": "in this browser ({backend}, {threads} threads)", "stopped": "stopped",
        "fallback": "this browser could not compute it",
        "forward": "t = {t} · forward process of {origin} · {tail}", "noising": "noising",
        "origin_run": "the last run's final sprites", "origin_seed": "seed {seed}'s sprites (DDIM, 25 steps)",
        "compare": "t = {t} · the forward process beside the run", "race_arm": "{name}: step {done}/{total} · {seconds:.1f} s",
        "race_done": "both done", "forward_caption": "forward process q(x_t | x0)", "beside_caption": "the run at the same t",
        "race_caption": "{name}, {steps} steps: {seconds:.1f} s",
        "with_noise": "with noise (DDPM)", "without_noise": "without noise (z = 0)",
        "link_ignored": "The link's {fields} ignored: {reasons}. The rest of it applies.",
        "autoguided": "autoguided, ω = {omega:g} on t {lo}–{hi}",
        "why_server": "the server was sooner ({state}, about {server:.0f} s; this browser about {browser:.0f} s)",
        "why_browser": "this browser was about as soon (about {browser:.0f} s; the server {state}, about {server:.0f} s)",
        "free": "free now", "busy": "{ahead} runs ahead",
        "why_server_free": "the server was free (about {server:.0f} s); this browser's own speed is measured after this run",
        "inside_pick": "After a DDPM run, click a pixel of a sprite on the stage (or choose a sprite and type its pixel X,Y).",
        "inside_stale": "The settings changed since this run: press Run again to look inside its steps.",
        "inside_arm": "**{arm}**, sprite {sprite}, pixel ({x}, {y}), the step from t = {t}:",
        "red": "red", "green": "green", "blue": "blue", "channel": "- {colour}: `{step}`  \n  `{x0}`",
        "guess_line": "Sprite {sprite} noised to t = {t}: the true noise ε and the network's guess ε̂ of it, without a class. "
                      "This example's training loss, the mean of (ε − ε̂)² over the sprite: **{loss:.4f}**. Below, the "
                      "same at every t: at large t x_t is nearly all noise, so guessing the noise is easy; at small t the "
                      "little noise there is hides in the sprite's own detail, and the guess is hardest.",
        "guess_stale": "The seed changed since this forward process: run it again to see the network's guess.",
    },
    ZH: {
        "start": "t = {t} · 纯噪声 x_T · 开始", "step": "t = {t} · 第 {done}/{total} 步 · 每秒 {rate:.0f} 步 · {tail}",
        "left": "还剩 {seconds:.1f} 秒", "done": "完成",
        "queued": "t = {t} · 纯噪声 x_T · 排队中：第 {place} 位（服务器同时运行尽可能多的采样）", "shown": "保留了 {frames} 帧 · {where}",
        "on_server": "在服务器上计算（{engine}）", "in_browser": "在本浏览器中计算（{backend}，{threads} 个线程）", "stopped": "已停止",
        "fallback": "本浏览器无法计算",
        "forward": "t = {t} · {origin}的前向过程 · {tail}", "noising": "加噪声中",
        "origin_run": "上一次采样的最终精灵图", "origin_seed": "种子 {seed} 的精灵图（DDIM，25 步）",
        "compare": "t = {t} · 前向过程与采样并排", "race_arm": "{name}：第 {done}/{total} 步 · {seconds:.1f} 秒",
        "race_done": "都已完成", "forward_caption": "前向过程 q(x_t | x0)", "beside_caption": "同一时间步长 t 的采样",
        "race_caption": "{name}，{steps} 步：{seconds:.1f} 秒",
        "with_noise": "加回噪声（DDPM）", "without_noise": "不加噪声（z = 0）",
        "link_ignored": "链接中的 {fields} 被忽略：{reasons}。链接的其余部分照常生效。",
        "autoguided": "自引导，ω = {omega:g}，t 在 {lo}–{hi}",
        "why_server": "服务器更快（{state}，约 {server:.0f} 秒；本浏览器约 {browser:.0f} 秒）",
        "why_browser": "本浏览器差不多一样快（约 {browser:.0f} 秒；服务器{state}，约 {server:.0f} 秒）",
        "free": "现在空闲", "busy": "前面有 {ahead} 个采样",
        "why_server_free": "服务器空闲（约 {server:.0f} 秒）；本浏览器的速度在这次采样之后测量",
        "inside_pick": "DDPM 采样之后，在画面上点击某个精灵图的一个像素（或选择一个精灵图并输入像素 X,Y）。",
        "inside_stale": "设置在这次采样之后改变了：请再按一次运行，再看它的每一步。",
        "inside_arm": "**{arm}**，精灵图 {sprite}，像素 ({x}, {y})，从 t = {t} 出发的一步：",
        "red": "红", "green": "绿", "blue": "蓝", "channel": "- {colour}：`{step}`  \n  `{x0}`",
        "guess_line": "精灵图 {sprite} 加噪到 t = {t}：真实的噪声 ε 与网络对它的预测 ε̂（不带类别）。这个样本的训练损失，"
                      "即 (ε − ε̂)² 在整个精灵图上的平均：**{loss:.4f}**。下图是每个 t 上的同一损失：t 大时 x_t 几乎全是噪声，"
                      "猜噪声很容易；t 小时那一点点噪声藏在精灵图自身的细节里，最难猜。",
        "guess_stale": "这次前向过程之后随机种子变了：请再运行一次前向过程，再看网络的预测。",
    },
}


# A bad setting's message (demo/settings.RequestError), and the names of the settings they speak of, by setting name.
ERRORS = {
    EN: {
        "whole": "{name} must be a whole number from {lo} to {hi}, got {value}",
        "range": "{name} must be from {lo} to {hi}, got {value}",
        "number": "{name} must be a number from {lo} to {hi}, got {value}",
        "flag": "{name} must be true or false, got {value}",
        "choice": "{name} must be one of {choices}, got {value}",
        "mix_empty": "a mix needs weights, such as 'hero 1, food 0.6'",
        "mix_part": "each part of a mix is a class of {choices} and a weight from 0 to {hi}, got {value}",
        "mix_zero": "a mix needs at least one weight above 0",
        "pixel": "{name} must be X,Y, each a whole number from 0 to 15, got {value}",
    },
    ZH: {
        "whole": "{name}必须是 {lo} 到 {hi} 之间的整数，收到的是 {value}",
        "range": "{name}必须在 {lo} 到 {hi} 之间，收到的是 {value}",
        "number": "{name}必须是 {lo} 到 {hi} 之间的数，收到的是 {value}",
        "flag": "{name}必须是 true 或 false，收到的是 {value}",
        "choice": "{name}必须是以下之一：{choices}；收到的是 {value}",
        "mix_empty": "混合需要权重，例如 'hero 1, food 0.6'",
        "mix_part": "混合的每一项是一个类别（{choices}）和一个 0 到 {hi} 之间的权重，收到的是 {value}",
        "mix_zero": "混合至少需要一个大于 0 的权重",
        "pixel": "{name}必须是 X,Y，每个都是 0 到 15 之间的整数，收到的是 {value}",
    },
}
NAMES = {
    EN: {"sampler": "sampler", "steps": "steps", "seed": "seed", "n": "number of sprites", "class_name": "class",
         "add_noise": "add noise back", "noise_scale": "noise scale λ", "side_by_side": "side by side", "view": "view",
         "sprite": "sprite", "guidance": "class guidance w", "mix": "mix", "autoguidance": "autoguidance ω", "pace": "playback",
         "compute": "compute", "lang": "lang", "run": "run", "action": "action", "t": "t", "present": "present",
         "source": "sprites from", "pixel": "pixel"},
    ZH: {"sampler": "采样器", "steps": "步数", "seed": "随机种子", "n": "精灵图数量", "class_name": "类别",
         "add_noise": "加回噪声", "noise_scale": "噪声的缩放因子 λ", "side_by_side": "并排对比", "view": "显示",
         "sprite": "精灵图", "guidance": "类别引导 w", "mix": "混合", "autoguidance": "自引导 ω", "pace": "播放速度",
         "compute": "计算位置", "lang": "语言", "run": "运行", "action": "操作", "t": "时间步长 t", "present": "投影视图",
         "source": "精灵图来源", "pixel": "像素"},
}


def message(lang: str, key: str, values: dict) -> str:
    """The message `key` of ERRORS in `lang`, filled in with `values`, the setting's `name` in words."""
    return ERRORS[lang][key].format(**{**values, "name": NAMES[lang].get(values.get("name"), values.get("name"))})


def error(lang: str, e: Exception) -> str:
    """A bad request's message in `lang` (demo/settings.RequestError), else the exception's own words."""
    key, values = getattr(e, "key", None), getattr(e, "values", {})
    return message(lang, key, values) if key in ERRORS[lang] else str(e)


def language(request: gr.Request | None) -> str:
    """The viewer's language: the page address's `lang` (en, zh) if it has one, else the browser's Accept-Language,
    Chinese for any zh, else English (API clients too)."""
    if request is None:
        return EN
    asked = (getattr(request, "query_params", None) or {}).get("lang")
    if asked in ("en", "zh"):
        return ZH if asked == "zh" else EN
    return ZH if request.headers.get("accept-language", "").strip().lower().startswith("zh") else EN


def template(lang: str, key: str) -> str:
    """One of LINES in `lang` with its {fields} unfilled, for the page's own sampler to fill in (demo/web/page.js)."""
    return LINES[lang][key]


def line(lang: str, key: str, **values) -> str:
    """One of LINES in `lang`, filled in."""
    return LINES[lang][key].format(**values)
