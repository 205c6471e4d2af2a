# The package_consumer test (cmake -P): installs the build, builds and runs tests/package on it.
#
# Variables (tests/CMakeLists.txt passes them): BUILD_DIR, SOURCE_DIR (tests/package), WORK_DIR
# (removed first; the prefix and the consumer's build go there; removed again on success),
# CONFIG, GENERATOR, GENERATOR_PLATFORM, GENERATOR_TOOLSET, MAKE_PROGRAM, CXX_COMPILER,
# CXX_FLAGS, EXE_LINKER_FLAGS, PREFIX_PATH ("|"-separated), EXPECT_CUDA (0 or 1), EXPECT_OPENCV
# (ON when the build has OpenCV: the installed tool reads a .pgm through its module); KEEP=ON keeps
# WORK_DIR after a pass too (it is always kept after a failure).
cmake_minimum_required(VERSION 3.18)

foreach(v BUILD_DIR SOURCE_DIR WORK_DIR GENERATOR CXX_COMPILER EXPECT_CUDA)
  if(NOT DEFINED ${v} OR "${${v}}" STREQUAL "")
    message(FATAL_ERROR "package_consumer: ${v} not given")
  endif()
endforeach()

# Runs a command; fails the test with its output if it fails. The output is left in run_output.
function(run what)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "package_consumer: ${what} failed (${rc}); files kept in "
                        "${WORK_DIR}\n${out}")
  endif()
  set(run_output "${out}" PARENT_SCOPE)
endfunction()

set(prefix "${WORK_DIR}/prefix")
set(build "${WORK_DIR}/build")
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

# --- Install ---
set(config_args)
if(CONFIG)
  set(config_args --config "${CONFIG}")
endif()
run("cmake --install" "${CMAKE_COMMAND}" --install "${BUILD_DIR}" --prefix "${prefix}"
    ${config_args})

# No JSON library (nor anything but the standard library and maskeval) in the public headers.
file(GLOB_RECURSE headers "${prefix}/include/maskeval/*.h")
if(NOT headers)
  message(FATAL_ERROR "package_consumer: no headers installed under ${prefix}/include/maskeval")
endif()
foreach(h IN LISTS headers)
  file(STRINGS "${h}" bad REGEX "^[ \t]*#[ \t]*include[ \t]*[<\"](nlohmann|CLI|opencv|png|tiff)")
  if(bad)
    message(FATAL_ERROR "package_consumer: ${h} includes a dependency's header: ${bad}")
  endif()
endforeach()

# --- Configure and build the consumer, with the main build's compiler, generator and flags ---
string(REPLACE "|" ";" prefix_path "${prefix};${PREFIX_PATH}")
set(gen_args -G "${GENERATOR}")
if(GENERATOR_PLATFORM)
  list(APPEND gen_args -A "${GENERATOR_PLATFORM}")
endif()
if(GENERATOR_TOOLSET)
  list(APPEND gen_args -T "${GENERATOR_TOOLSET}")
endif()
if(MAKE_PROGRAM)
  list(APPEND gen_args "-DCMAKE_MAKE_PROGRAM=${MAKE_PROGRAM}")
endif()
if(CONFIG)
  list(APPEND gen_args "-DCMAKE_BUILD_TYPE=${CONFIG}")
endif()
run("configuring the consumer" "${CMAKE_COMMAND}" -S "${SOURCE_DIR}" -B "${build}" ${gen_args}
    "-DCMAKE_CXX_COMPILER=${CXX_COMPILER}" "-DCMAKE_CXX_FLAGS=${CXX_FLAGS}"
    "-DCMAKE_EXE_LINKER_FLAGS=${EXE_LINKER_FLAGS}" "-DCMAKE_PREFIX_PATH=${prefix_path}"
    -DCMAKE_FIND_USE_PACKAGE_REGISTRY=OFF)

# find_package found the package just installed, not another one.
file(STRINGS "${build}/CMakeCache.txt" found REGEX "^maskeval_DIR:PATH=")
string(REGEX REPLACE "^maskeval_DIR:PATH=" "" found "${found}")
get_filename_component(found "${found}" REALPATH)
get_filename_component(real_prefix "${prefix}" REALPATH)
string(FIND "${found}/" "${real_prefix}/" at)
if(NOT at EQUAL 0)
  message(FATAL_ERROR "package_consumer: found maskeval in ${found}, not under ${prefix}")
endif()

run("building the consumer" "${CMAKE_COMMAND}" --build "${build}" --parallel ${config_args})

# --- Run it ---
function(check program expected)
  set(exe "${build}/${program}")
  if(CONFIG AND EXISTS "${build}/${CONFIG}/${program}")  # multi-config generators
    set(exe "${build}/${CONFIG}/${program}")
  endif()
  run("running ${program}" "${exe}")
  string(STRIP "${run_output}" got)
  if(NOT got STREQUAL expected)
    message(FATAL_ERROR "package_consumer: ${program} printed\n  ${got}\nnot\n  ${expected}")
  endif()
  message(STATUS "package_consumer: ${program}: ${got}")
endfunction()
check(consumer_dice "label 1: volumes 6 10, intersection 4, dice 0.5")

# The installed tool finds OpenCV's codecs module in the installed tree (lib/maskeval).
if(EXPECT_OPENCV)
  file(GLOB_RECURSE module "${prefix}/*/maskeval/maskeval_opencv_codecs.so")
  if(NOT module)
    message(FATAL_ERROR "package_consumer: maskeval_opencv_codecs.so not installed")
  endif()
  file(WRITE "${WORK_DIR}/pgm/case/a.pgm" "P2\n3 2\n255\n0 1 1\n0 1 0\n")
  file(WRITE "${WORK_DIR}/pgm/case/b.pgm" "P2\n3 2\n255\n0 1 0\n0 1 0\n")
  run("the installed maskeval on .pgm files" "${prefix}/bin/maskeval" agree --cases
      "${WORK_DIR}/pgm" --raters "*.pgm" -q -o "${WORK_DIR}/pgm-out")
  file(READ "${WORK_DIR}/pgm-out/report.json" report)
  string(JSON both GET "${report}" cases 0 labels 1 intersection 0 1)
  string(JSON first GET "${report}" cases 0 labels 1 volume 0)
  if(NOT both EQUAL 2 OR NOT first EQUAL 3)
    message(FATAL_ERROR "package_consumer: the .pgm raters gave volume ${first} and "
                        "intersection ${both}, not 3 and 2")
  endif()
  message(STATUS "package_consumer: the installed maskeval read .pgm files")
endif()
check(consumer_device "cuda built ${EXPECT_CUDA}")

if(NOT KEEP)
  file(REMOVE_RECURSE "${WORK_DIR}")
endif()
message(STATUS "package_consumer: passed")
