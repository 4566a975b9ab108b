"""Hand-made InterRVOS samples shared by the metric and tool tests.

One video, 2 frames of 6x8, objects A (top-left), B (bottom-right), C
(bottom-left), as ``(T, H, W)`` bool tensors.
"""
import torch

SHAPE = (2, 6, 8)
FRAMES = ['00000', '00005']


def box(top, left, height, width):
    masks = torch.zeros(SHAPE, dtype=torch.bool)
    masks[:, top:top + height, left:left + width] = True
    return masks


A, B, C = box(0, 0, 2, 3), box(3, 4, 2, 3), box(4, 0, 2, 2)
EMPTY = torch.zeros(SHAPE, dtype=torch.bool)


def sample(exp_id, gt_actor, gt_target, pred_actor, pred_target, pair=None,
           has_interaction=True):
    return dict(
        video_id='vid',
        exp_id=exp_id,
        expression=f'expression {exp_id}',
        frame_names=list(FRAMES),
        ori_shape=SHAPE[1:],
        has_interaction=has_interaction,
        pair_exp_id=pair,
        gt_actor_masks=gt_actor,
        gt_target_masks=gt_target,
        pred_actor_masks=pred_actor,
        pred_target_masks=pred_target,
        pred_text='Sure, it is [SEG_ACT].')


def hand_samples():
    return [
        sample('e0', A, B, A, B, pair='e1'),
        sample('e1', B, A, B, None, pair='e0'),
        sample('e2', C, EMPTY, EMPTY, A, has_interaction=False),
    ]


EXPECTED = dict(
    actor_J=100.0,
    actor_F=100.0,
    actor_JF=100.0,
    target_J=50.0,
    target_F=50.0,
    target_JF=50.0,
    rvos_J=0.0,
    rvos_F=0.0,
    rvos_JF=0.0,
    interaction_acc=100 / 3,
    role_swap_consistency=50.0)
