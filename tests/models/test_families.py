"""The component configs likeness carries build the real SD1.5 and SDXL architectures (on the
meta device: no memory), and single files are recognised by their tensor names."""

import pytest
import torch

from likeness.models.families import (
    UnknownFamilyError,
    family_of_checkpoint,
    family_of_pipeline,
)
from likeness.testing.models import full_size_components

#: Published parameter counts of the real models' components.
SIZES = {
    "sd15": {"unet": 859_520_964, "vae": 83_653_863, "text_encoder": 123_060_480},
    "sdxl": {
        "unet": 2_567_463_684,
        "vae": 83_653_863,
        "text_encoder": 123_060_480,
        "text_encoder_2": 694_659_840,
    },
}


@pytest.mark.parametrize("name", ["sd15", "sdxl"])
def test_carried_configs_are_the_real_architectures(name):
    with torch.device("meta"):
        built = full_size_components(name)
    for part, expected in SIZES[name].items():
        count = sum(p.numel() for p in built[part].parameters())
        assert abs(count - expected) / expected < 1e-3, (part, count, expected)


def test_checkpoints_are_recognised_by_their_keys():
    sd15 = {
        "model.diffusion_model.input_blocks.0.0.weight",
        "cond_stage_model.transformer.text_model.embeddings.token_embedding.weight",
    }
    sdxl = {
        "model.diffusion_model.input_blocks.0.0.weight",
        "conditioner.embedders.0.transformer.text_model.embeddings.token_embedding.weight",
        "conditioner.embedders.1.model.token_embedding.weight",
    }
    assert family_of_checkpoint(sd15).name == "sd15"
    assert family_of_checkpoint(sdxl).name == "sdxl"
    with pytest.raises(UnknownFamilyError, match="SD 2"):
        family_of_checkpoint(
            {
                "model.diffusion_model.input_blocks.0.0.weight",
                "cond_stage_model.model.ln_final.weight",
            }
        )
    assert family_of_pipeline("StableDiffusionXLPipeline").name == "sdxl"
    with pytest.raises(UnknownFamilyError, match="FluxPipeline"):
        family_of_pipeline("FluxPipeline")
