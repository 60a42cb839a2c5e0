# tests/fuzz/attach.cmake — used by scripts/fuzz.sh only while the root
# CMakeLists.txt does not yet add tests/fuzz itself: passed as
# CMAKE_PROJECT_INCLUDE, it defers an include() of tests/fuzz/CMakeLists.txt
# to the end of the root directory, when dms_core exists (deferred calls may
# not create subdirectories, so the file is written to work when included).
# Once the root has `add_subdirectory(tests/fuzz)`, fuzz.sh stops using it.
cmake_language(DEFER CALL include "${CMAKE_SOURCE_DIR}/tests/fuzz/CMakeLists.txt")
