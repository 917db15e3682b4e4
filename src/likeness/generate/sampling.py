"""Sampling: one prompt with the people's adapters through the family's diffusers pipeline, or,
for several people, regional prompting.

Regional prompting keeps two identities from blending into one face: at every denoising step
the UNet runs once per person, with only that person's adapter active and that person's region
prompt, and the noise predictions are composed by the layout's soft masks (in the spirit of
MultiDiffusion). Each adapter therefore acts only inside its own region. It costs one UNet pass
(two with guidance) per person per step.

Both take ``frames`` for a clip (AnimateDiff's pipelines, whose motion UNet denoises all the
frames together): the result is then (frames, height, width, 3), and the regions' masks
hold on every frame.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from likeness.generate.layout import Box, region_masks


@dataclass(frozen=True)
class Region:
    prompt: str
    adapter: str | None  # the adapter's name in the pipeline (None: no adapter)
    box: Box


def _activate(pipe, adapters: list[str]) -> None:
    if adapters:
        pipe.enable_lora()
        pipe.set_adapters(adapters, [1.0] * len(adapters))
    elif getattr(pipe, "get_list_adapters", None) and pipe.get_list_adapters():
        pipe.disable_lora()


def sample_one(
    pipe,
    prompt: str,
    negative: str,
    adapters: list[str],
    *,
    width: int,
    height: int,
    steps: int,
    guidance: float,
    generator,
    progress: Callable[[int, int], None] | None = None,
    frames: int | None = None,
) -> np.ndarray:
    """One image (or clip of ``frames``) with the given adapters active, by the pipeline's
    own call."""

    def on_step(_pipe, step, _t, kwargs):
        if progress is not None:
            progress(step + 1, steps)
        return kwargs

    _activate(pipe, adapters)
    result = pipe(
        prompt,
        negative_prompt=negative,
        width=width,
        height=height,
        num_inference_steps=steps,
        guidance_scale=guidance,
        generator=generator,
        output_type="np",
        callback_on_step_end=on_step,
        **({} if frames is None else {"num_frames": frames}),
    )
    pixels = result.images[0] if frames is None else result.frames[0]
    return (pixels * 255).round().astype(np.uint8)


def sample_prompt(
    pipe, text: str, negative: str, adapters: list[str], regions: list[Region], **common
) -> np.ndarray:
    """One output of a prompt: regional prompting when people have ``regions``, else the
    pipeline's own call with ``adapters`` active (``common``: the keyword arguments both
    take)."""
    if regions:
        return sample_regions(pipe, regions, negative, **common)
    return sample_one(pipe, text, negative, adapters, **common)


def _conditioning(pipe, sdxl: bool, prompt: str, negative: str, width: int, height: int):
    """(embeddings [negative; positive], added conditioning or None) for guidance."""
    import torch

    device = pipe.unet.device
    if sdxl:
        embeds, neg, pooled, neg_pooled = pipe.encode_prompt(
            prompt=prompt, device=device, do_classifier_free_guidance=True, negative_prompt=negative
        )
        time_ids = torch.tensor([[height, width, 0, 0, height, width]], device=device)
        time_ids = time_ids.to(embeds.dtype).repeat(2, 1)
        added = {"text_embeds": torch.cat([neg_pooled, pooled]), "time_ids": time_ids}
        return torch.cat([neg, embeds]), added
    embeds, neg = pipe.encode_prompt(prompt, device, 1, True, negative_prompt=negative)
    return torch.cat([neg, embeds]), None


def sample_regions(
    pipe,
    regions: list[Region],
    negative: str,
    *,
    width: int,
    height: int,
    steps: int,
    guidance: float,
    generator,
    progress: Callable[[int, int], None] | None = None,
    frames: int | None = None,
) -> np.ndarray:
    """One image (or clip of ``frames``) whose regions each follow their own prompt and
    adapter."""
    import torch

    sdxl = hasattr(pipe, "text_encoder_2")
    unet, scheduler = pipe.unet, pipe.scheduler
    scale = pipe.vae_scale_factor
    device, dtype = unet.device, unet.dtype
    conds = []
    for r in regions:
        _activate(pipe, [r.adapter] if r.adapter else [])
        embeds, added = _conditioning(pipe, sdxl, r.prompt, negative, width, height)
        if frames is not None:  # the motion UNet takes each frame's text (as AnimateDiff's)
            embeds = embeds.repeat_interleave(frames, dim=0)
        conds.append((embeds, added))
    masks = torch.from_numpy(region_masks([r.box for r in regions], width, height, scale))
    masks = masks.to(device, dtype)[:, None, None]  # region, batch, channel, h, w
    if frames is not None:
        masks = masks[:, :, :, None]  # the same on every frame
    grid = (height // scale, width // scale)
    channels = unet.config.in_channels
    shape = (1, channels, *grid) if frames is None else (1, channels, frames, *grid)
    latents = torch.randn(shape, generator=generator, dtype=torch.float32).to(device, dtype)
    scheduler.set_timesteps(steps, device=device)
    latents = latents * scheduler.init_noise_sigma
    with torch.no_grad():
        for i, t in enumerate(scheduler.timesteps):
            model_in = scheduler.scale_model_input(torch.cat([latents] * 2), t)
            noise = torch.zeros_like(latents)
            for k, (r, (embeds, added)) in enumerate(zip(regions, conds, strict=True)):
                _activate(pipe, [r.adapter] if r.adapter else [])
                pred = unet(model_in, t, encoder_hidden_states=embeds, added_cond_kwargs=added)
                uncond, cond = pred.sample.chunk(2)
                noise = noise + masks[k] * (uncond + guidance * (cond - uncond))
            latents = scheduler.step(noise, t, latents).prev_sample
            if progress is not None:
                progress(i + 1, steps)
        vae = pipe.vae
        if getattr(vae.config, "force_upcast", False) and vae.dtype == torch.float16:
            vae.to(torch.float32)  # SDXL's VAE overflows in fp16 (diffusers does the same)
        if frames is not None:
            video = pipe.decode_latents(latents.to(vae.dtype))
            clip = pipe.video_processor.postprocess_video(video=video.float(), output_type="np")
            return (clip[0] * 255).round().astype(np.uint8)
        image = vae.decode(latents.to(vae.dtype) / vae.config.scaling_factor).sample
    image = pipe.image_processor.postprocess(image.float(), output_type="np")[0]
    return (image * 255).round().astype(np.uint8)
