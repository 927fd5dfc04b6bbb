"""``compress params``: a model's parameter names and shapes, to write patterns against."""

from __future__ import annotations

import argparse

from ..errors import CompressorError


def add_parser(sub: argparse._SubParsersAction) -> None:
    params = sub.add_parser("params", help="list a model's parameter names and shapes")
    params.add_argument("--schedule", help="take the model and data set from this schedule")
    params.add_argument("--arch", help="model name (with --dataset)")
    params.add_argument("--dataset", default="fashion_mnist", help="data set (decides input shape)")
    params.set_defaults(func=command)


def command(args: argparse.Namespace) -> int:
    from .. import data, models
    from ..runner.run import prepare

    if args.schedule:
        schedule, model, _, problems = prepare(args.schedule)
        if model is None:
            problems.raise_if_any()
    elif args.arch:
        info = data.dataset_info(args.dataset)
        model = models.build_model(args.arch, num_classes=info.num_classes,
                                   in_channels=info.channels, image_size=info.image_size)
    else:
        raise CompressorError("params: give --schedule FILE or --arch NAME")
    for name, p in model.named_parameters():
        print(f"{name:50s} {'x'.join(map(str, p.shape)):>20s} {p.numel():>12,}")
    return 0
