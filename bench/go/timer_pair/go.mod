// Provides the module of the timer_pair Go twin (standard library only; built by bench/run.py).
module weft.bench/timer_pair

go 1.19
