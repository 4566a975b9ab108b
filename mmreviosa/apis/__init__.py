from .inference import VideoPrediction, inference_video, init_model, read_video

__all__ = ['init_model', 'inference_video', 'read_video', 'VideoPrediction']
