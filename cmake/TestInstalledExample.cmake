# ctest example_find_package: install the core into a fresh prefix, then build and run examples/
# against that prefix only (never the build tree), as an outside project would.
# cmake -DBUILD_DIR= -DEXAMPLE_DIR= -DWORK_DIR= -DGENERATOR= -DMAKE_PROGRAM= -DCXX_COMPILER=
#       -DEIGEN_DIR= -DBLAS_LIBRARIES=a|b -P TestInstalledExample.cmake
file(REMOVE_RECURSE "${WORK_DIR}")
set(prefix "${WORK_DIR}/prefix")
execute_process(COMMAND "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}"
                RESULT_VARIABLE rc OUTPUT_QUIET)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "cmake --install failed (${rc})")
endif()
string(REPLACE "|" ";" blas "${BLAS_LIBRARIES}")
set(options -G "${GENERATOR}" "-DCMAKE_PREFIX_PATH=${prefix}" "-DEigen3_DIR=${EIGEN_DIR}"
            "-DSCALINGLAB_BLAS_LIBRARIES=${blas}" "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}"
            -DCMAKE_BUILD_TYPE=Release)
if(MAKE_PROGRAM)
  list(APPEND options "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
# The consumer's own flags: the compiler's x86-64 baseline, not the core's -march (the audit's
# "double free or corruption" came from exactly this mismatch before Eigen's alignment was pinned).
execute_process(COMMAND "${CMAKE_COMMAND}" -S "${EXAMPLE_DIR}" -B "${WORK_DIR}/build" ${options}
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "configuring examples/ against ${prefix} failed (${rc})")
endif()
execute_process(COMMAND "${CMAKE_COMMAND}" --build "${WORK_DIR}/build" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "building examples/ against ${prefix} failed (${rc})")
endif()
execute_process(COMMAND "${WORK_DIR}/build/embed_gram" RESULT_VARIABLE rc)
if(NOT rc EQUAL 0)
  message(FATAL_ERROR "embed_gram (linked to the installed core) failed: ${rc}")
endif()
