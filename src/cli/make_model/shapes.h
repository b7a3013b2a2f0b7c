#pragma once
// Model shapes `pagoda make-model --shape` knows: the one table of presets
// lives in the planner (planner/model_shape.h), which `pagoda estimate
// --preset` reads too.
#include "planner/model_shape.h"

namespace pagoda::cli {

using planner::find_model_shape;
using planner::model_shapes;
using planner::ModelShape;

}  // namespace pagoda::cli
