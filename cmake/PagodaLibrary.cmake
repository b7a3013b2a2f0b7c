# pagoda_library(<folder> DEPS...): every .cpp under src/<folder>/ becomes the
# static library pagoda_<folder>, which may use only the libraries named in DEPS
# (the layering in DESIGN.md is enforced by this link graph).
function(pagoda_library folder)
  file(GLOB_RECURSE sources CONFIGURE_DEPENDS ${CMAKE_CURRENT_SOURCE_DIR}/*.cpp)
  if(sources)
    add_library(pagoda_${folder} STATIC ${sources})
    set(scope PUBLIC)
  else()  # header-only so far
    add_library(pagoda_${folder} INTERFACE)
    set(scope INTERFACE)
  endif()
  target_include_directories(pagoda_${folder} ${scope} ${PROJECT_SOURCE_DIR}/src)
  target_link_libraries(pagoda_${folder} ${scope} ${ARGN})
  set(PAGODA_LIBRARY_SOURCES ${sources} PARENT_SCOPE)
endfunction()
