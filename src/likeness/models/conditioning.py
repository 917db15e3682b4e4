"""Conditioning a diffusion model as training and evaluation feed it: captions to text
embeddings (with SDXL's added conditioning), images to VAE latents, and the denoising loss.

Apart from training because evaluation (``adapters.identity``) and any later trainer (video,
remote workers) need the same numbers.
"""

from __future__ import annotations

from likeness.models.families import Family


def encode_captions(pipe, family: Family, captions: list[str], resolution: int):
    """(text embeddings, added conditioning or None) as the family's UNet takes them."""
    import torch

    device = pipe.unet.device
    if family.name == "sdxl":
        embeds, _, pooled, _ = pipe.encode_prompt(
            prompt=captions,
            device=device,
            num_images_per_prompt=1,
            do_classifier_free_guidance=False,
        )
        time_ids = torch.tensor(
            [[resolution, resolution, 0, 0, resolution, resolution]] * len(captions),
            dtype=embeds.dtype,
            device=device,
        )
        return embeds, {"text_embeds": pooled, "time_ids": time_ids}
    embeds = pipe.encode_prompt(captions, device, 1, False)[0]
    return embeds, None


def encode_images(pipe, images) -> object:
    """VAE latents (the distribution's mean, scaled) of PIL images, in float32."""
    import numpy as np
    import torch

    vae = pipe.vae
    dtype = vae.dtype
    vae.to(torch.float32)  # fp16 VAEs overflow on encoding (diffusers' force_upcast)
    pixels = torch.from_numpy(np.stack([np.asarray(i, dtype=np.float32) for i in images]))
    pixels = (pixels.permute(0, 3, 1, 2) / 127.5 - 1.0).to(vae.device)
    with torch.no_grad():
        latents = vae.encode(pixels).latent_dist.mean * vae.config.scaling_factor
        shift = getattr(vae.config, "shift_factor", None)
        if shift:
            latents = latents - shift * vae.config.scaling_factor
    vae.to(dtype)
    return latents


def prediction_target(scheduler, latents, noise, timesteps):
    if scheduler.config.prediction_type == "v_prediction":
        return scheduler.get_velocity(latents, noise, timesteps)
    return noise


def denoising_loss(pipe, latents, embeds, added, seed: int = 1234, draws: int = 16) -> float:
    """Mean noise-prediction loss over fixed draws of noise and timesteps: the same numbers
    for the base model and for the model with an adapter, so the two compare."""
    import torch
    import torch.nn.functional as F

    unet, scheduler = pipe.unet, pipe.scheduler
    total = 0.0
    with torch.no_grad():
        for i in range(draws):
            g = torch.Generator().manual_seed(seed + i)
            n = latents.shape[0]
            noise = torch.randn(latents.shape, generator=g).to(latents)
            t = torch.randint(0, scheduler.config.num_train_timesteps, (n,), generator=g)
            t = t.to(latents.device)
            noisy = scheduler.add_noise(latents, noise, t)
            pred = unet(
                noisy.to(unet.dtype), t, embeds.to(unet.dtype), added_cond_kwargs=added
            ).sample
            total += F.mse_loss(
                pred.float(), prediction_target(scheduler, latents, noise, t).float()
            ).item()
    return total / draws
