"""The role and image token ids an MLLM shares with its data pipeline and its checkpoints."""
from typing import Dict, Optional

import torch

from mmreviosa.text import IM_END_TOKEN, ROLE_TOKENS, SPECIAL_TOKENS


class SpecialTokenIdsMixin:
    """Record the ids of :data:`~mmreviosa.text.SPECIAL_TOKENS`; refuse data or weights with others.

    The ids go into the ``special_token_ids`` buffer (in ``SPECIAL_TOKENS`` order), saved
    with the weights, so that a checkpoint cannot meet another tokenizer silently.  The
    class using it calls :meth:`_record_token_ids` once its tokenizer is known.
    """

    def _record_token_ids(self, vocab: Optional[Dict[str, int]]) -> None:
        """Set ``role_token_ids`` and the buffer from ``vocab`` (None: no tokenizer, ids -1).

        Raises:
            KeyError: a special token or ``<|im_end|>`` is not in ``vocab``.
        """
        if vocab is None:
            self.role_token_ids: Dict[str, int] = {}
            self._token_ids: Dict[str, int] = {}
            self.register_buffer('special_token_ids',
                                 torch.full((len(SPECIAL_TOKENS),), -1, dtype=torch.long))
            return
        missing = [t for t in SPECIAL_TOKENS if t not in vocab]
        if missing or IM_END_TOKEN not in vocab:
            raise KeyError(f'Tokens {missing or [IM_END_TOKEN]} are not in the tokenizer; build '
                           f'it with mmreviosa.text.build_role_tokenizer')
        self.role_token_ids = {t: vocab[t] for t in ROLE_TOKENS}
        self._token_ids = {t: vocab[t] for t in SPECIAL_TOKENS}
        self.register_buffer('special_token_ids',
                             torch.tensor([vocab[t] for t in SPECIAL_TOKENS], dtype=torch.long))

    @property
    def token_ids(self) -> Dict[str, int]:
        """Ids of the role and image tokens, as ``get_special_token_ids`` gives them."""
        return dict(self._token_ids)

    def check_token_ids(self, ids: Dict[str, int]) -> None:
        """Raise if the data pipeline's token ids differ from the model's.

        Args:
            ids: token -> id, e.g. ``results['role_token_ids']`` of
                ``TokenizeConversation``.
        """
        if not self._token_ids:
            raise RuntimeError(f'{type(self).__name__} was built without a tokenizer: no token '
                               f'ids to check')
        own = self.token_ids
        wrong = {t: (i, own.get(t)) for t, i in ids.items() if own.get(t) != int(i)}
        if wrong:
            details = ', '.join(f'{t}: data {d} vs model {m}' for t, (d, m) in wrong.items())
            raise ValueError(f'Token ids of the data pipeline differ from the model ({details}). '
                             f'Build both from the same tokenizer config.')

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict, missing_keys,
                              unexpected_keys, error_msgs):
        key = prefix + 'special_token_ids'
        own = self.special_token_ids
        if key in state_dict and not own.is_meta and int(own.min()) >= 0:
            saved = state_dict[key]
            if saved.shape != own.shape or not torch.equal(saved.cpu(), own.cpu()):
                raise ValueError(
                    f'The checkpoint was trained with token ids '
                    f'{dict(zip(SPECIAL_TOKENS, saved.tolist()))} but this model has '
                    f'{self.token_ids}: the tokenizer differs.')
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict, missing_keys,
                                      unexpected_keys, error_msgs)
