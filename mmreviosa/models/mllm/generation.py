"""Answer generation of the MLLM: greedy decoding of left-padded prompts up to ``<|im_end|>``."""
import torch


def left_pad(input_ids: torch.Tensor, attention_mask: torch.Tensor, pad_id: int):
    """Move padding to the left of each row, keeping the token order.

    Args:
        input_ids, attention_mask: (B, L).

    Returns:
        (input_ids, attention_mask), both (B, L), left padded.
    """
    if bool(attention_mask[:, -1].all()):
        return input_ids, attention_mask
    # A stable sort on the mask puts the zeros (padding) first and keeps the tokens in order.
    order = torch.sort(attention_mask.long(), dim=1, stable=True).indices
    input_ids = input_ids.gather(1, order)
    attention_mask = attention_mask.gather(1, order)
    return input_ids.masked_fill(attention_mask == 0, pad_id), attention_mask


@torch.no_grad()
def generate_answer(model, input_ids: torch.Tensor, attention_mask: torch.Tensor,
                    pixel_values, eos_token_id: int, pad_token_id: int,
                    max_new_tokens: int = 16, **kwargs) -> torch.Tensor:
    """Generate with a native ``InternVLForConditionalGeneration`` (greedy by default).

    Args:
        model: the native model (or its peft wrapper's base).
        input_ids: (B, L) prompts ending with the assistant header.
        attention_mask: (B, L); right padding (the training layout) is moved left.
        pixel_values: (N_img, 3, S, S).
        eos_token_id: the id that ends an answer (``<|im_end|>``).
        pad_token_id: the id of padding, in the prompts and after early stops.
        max_new_tokens: most tokens to generate.
        **kwargs: ``GenerationConfig`` overrides (``do_sample``, ``num_beams``...).

    Returns:
        (B, L_new) long: the new tokens only, ``eos_token_id`` included;
        sequences that stopped early are padded with ``pad_token_id``.
    """
    input_ids, attention_mask = left_pad(input_ids, attention_mask, pad_token_id)
    options = dict(max_new_tokens=max_new_tokens, do_sample=False, use_cache=True,
                   eos_token_id=eos_token_id, pad_token_id=pad_token_id)
    options.update(kwargs)
    sequences = model.generate(input_ids=input_ids, attention_mask=attention_mask,
                               pixel_values=pixel_values, **options)
    return sequences[:, input_ids.shape[1]:]
