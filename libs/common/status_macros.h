// Status propagation macros for absl::Status / absl::StatusOr.
//
// Debian 12's Abseil (20220623) ships no status macros, so tidewatch keeps
// its own two here and nowhere else:
//
//   absl::Status Load(...) {
//     RETURN_IF_ERROR(Validate(x));
//     ASSIGN_OR_RETURN(Policy p, Parse(text));
//     ...
//   }
#ifndef TIDEWATCH_LIBS_COMMON_STATUS_MACROS_H_
#define TIDEWATCH_LIBS_COMMON_STATUS_MACROS_H_

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Evaluates `expr` (an absl::Status) and returns it from the enclosing
// function if it is not OK.
#define RETURN_IF_ERROR(expr)                              \
  do {                                                     \
    ::absl::Status tidewatch_status_ = (expr);             \
    if (!tidewatch_status_.ok()) return tidewatch_status_; \
  } while (false)

#define TIDEWATCH_CONCAT_INNER_(a, b) a##b
#define TIDEWATCH_CONCAT_(a, b) TIDEWATCH_CONCAT_INNER_(a, b)

// Evaluates `rexpr` (an absl::StatusOr<T>); on error returns its status from
// the enclosing function, otherwise moves the value into `lhs`, which may be
// a declaration (`ASSIGN_OR_RETURN(auto x, F())`) or an lvalue.
#define ASSIGN_OR_RETURN(lhs, rexpr) \
  TIDEWATCH_ASSIGN_OR_RETURN_IMPL_(TIDEWATCH_CONCAT_(tidewatch_statusor_, __LINE__), lhs, rexpr)

#define TIDEWATCH_ASSIGN_OR_RETURN_IMPL_(statusor, lhs, rexpr) \
  auto statusor = (rexpr);                                     \
  if (!statusor.ok()) return std::move(statusor).status();     \
  lhs = *std::move(statusor)

#endif  // TIDEWATCH_LIBS_COMMON_STATUS_MACROS_H_
