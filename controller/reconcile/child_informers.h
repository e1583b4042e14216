// ChildInformerOptions: how weir-controller caches Jobs and pods. Only those
// labelled weir.dev/managed-by=weir (every child Job and, through its
// template, its pods), so memory does not grow with other workloads; indexed
// by the owner uid labels the reconcilers look children up by. Apart from
// children.h so that the planners (and their fuzz targets) need no runtime.
#pragma once

#include "runtime/informer.h"

namespace weir::reconcile {

runtime::InformerOptions ChildInformerOptions();

}  // namespace weir::reconcile
