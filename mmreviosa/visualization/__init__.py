from .overlay import (ACTOR_COLOR, TARGET_COLOR, add_caption, overlay_masks, write_gif,
                      write_video)

__all__ = ['ACTOR_COLOR', 'TARGET_COLOR', 'add_caption', 'overlay_masks', 'write_gif',
           'write_video']
