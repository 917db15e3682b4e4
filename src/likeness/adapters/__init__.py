"""Personalized adapters: a person's training set curated from their photo group, a LoRA
trained on a frozen base model, kept encrypted with the person's key, exported on consent."""
