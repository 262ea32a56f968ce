# Fails when a committed reference in docs/ differs from what mlir-tblgen
# generates from the .td files now (its first 3 lines are the header).
file(READ "${COMMITTED}" committed)
foreach(line RANGE 1 3)
  string(FIND "${committed}" "\n" newline)
  math(EXPR next "${newline} + 1")
  string(SUBSTRING "${committed}" ${next} -1 committed)
endforeach()
file(READ "${GENERATED}" generated)
if(NOT committed STREQUAL generated)
  message(FATAL_ERROR "${COMMITTED} is out of date with the .td files; "
          "regenerate it with the command in its third line")
endif()
