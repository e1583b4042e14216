// weir-controller: the weir operator's single binary. It watches Batch,
// JobFlow and JobTemplate resources and runs their work as batch/v1 Jobs.
#include "controller_main.h"

int main(int argc, char** argv) { return weir::ControllerMain(argc, argv); }
