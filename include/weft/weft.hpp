// Provides everything: the umbrella header for weft, Go's concurrency model for C++20.
#pragma once

#include <weft/chan.hpp>
#include <weft/context.hpp>
#include <weft/go.hpp>
#include <weft/runtime.hpp>
#include <weft/select.hpp>
#include <weft/task.hpp>
#include <weft/time.hpp>
#include <weft/wait_group.hpp>
