"""The baseline for the training benchmarks: a bare diffusers + peft LoRA loop, written here
as a diffusers user would write it (the DreamBooth-LoRA recipe), with nothing of likeness in
its loop: no consent checks, no checkpoints, no encryption."""

from __future__ import annotations

import resource
import time


def bare_lora_loop(
    pipe,
    images,
    captions: list[str],
    steps: int,
    rank: int,
    lr: float,
    out_path,
    seed: int = 0,
    device: str = "cpu",
    dtype=None,
    gradient_checkpointing: bool = False,
    warmup: int = 0,
) -> float:
    """Train a LoRA on ``pipe`` and save it; returns the seconds the loop took after its first
    ``warmup`` steps."""
    import numpy as np
    import torch
    import torch.nn.functional as F
    from peft import LoraConfig
    from peft.utils import get_peft_model_state_dict
    from safetensors.torch import save_file

    dtype = dtype or torch.float32
    sdxl = hasattr(pipe, "text_encoder_2")
    unet, vae, scheduler = pipe.unet, pipe.vae, pipe.scheduler
    for m in (unet, vae, pipe.text_encoder, getattr(pipe, "text_encoder_2", None)):
        if m is not None:
            m.requires_grad_(False)
    torch.manual_seed(seed)
    unet.add_adapter(
        LoraConfig(
            r=rank,
            lora_alpha=rank,
            init_lora_weights="gaussian",
            target_modules=["to_q", "to_k", "to_v", "to_out.0"],
        )
    )
    if gradient_checkpointing:
        unet.enable_gradient_checkpointing()
    params = [p for p in unet.parameters() if p.requires_grad]
    for p in params:
        p.data = p.data.float()
    optimizer = torch.optim.AdamW(params, lr=lr, weight_decay=1e-2)
    with torch.no_grad():
        vae.to(torch.float32)
        pixels = torch.from_numpy(np.stack([np.asarray(i, dtype=np.float32) for i in images]))
        pixels = (pixels.permute(0, 3, 1, 2) / 127.5 - 1).to(device)
        latents = (vae.encode(pixels).latent_dist.mean * vae.config.scaling_factor).to(dtype)
        vae.to(dtype)
        if sdxl:
            embeds, _, pooled, _ = pipe.encode_prompt(
                prompt=captions, device=device, do_classifier_free_guidance=False
            )
            size = images[0].size[0]
            time_ids = torch.tensor([[size, size, 0, 0, size, size]] * len(captions)).to(embeds)
        else:
            embeds = pipe.encode_prompt(captions, device, 1, False)[0]
    start = time.perf_counter()
    for step in range(steps):
        if step == warmup:
            if device.startswith("cuda"):
                torch.cuda.synchronize()
            start = time.perf_counter()
        i = step % len(captions)
        noise = torch.randn_like(latents[i : i + 1])
        t = torch.randint(0, scheduler.config.num_train_timesteps, (1,), device=device)
        noisy = scheduler.add_noise(latents[i : i + 1], noise, t)
        added = (
            {"text_embeds": pooled[i : i + 1], "time_ids": time_ids[i : i + 1]} if sdxl else None
        )
        with torch.autocast(device.split(":")[0], dtype, enabled=dtype != torch.float32):
            pred = unet(noisy, t, embeds[i : i + 1], added_cond_kwargs=added).sample
        loss = F.mse_loss(pred.float(), noise.float())
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    state = {f"unet.{k}": v.contiguous() for k, v in get_peft_model_state_dict(unet).items()}
    save_file(state, str(out_path))
    return seconds


def peak_rss_mib() -> float:
    """This process's peak resident memory (Linux reports KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
