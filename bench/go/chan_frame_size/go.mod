// Provides the module of the chan_frame_size Go twin (standard library only; built by bench/run.py).
module weft.bench/chan_frame_size

go 1.19
