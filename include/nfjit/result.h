// Error values that carry the errno a kernel would return and a message naming what failed.
// (C++20 has no std::expected; this is the small subset nfjit needs.)
#pragma once

#include <cerrno>
#include <string>
#include <utility>
#include <variant>

namespace nfjit {

struct Error {
  int err = EINVAL;     // positive errno, as the kernel would return it to the caller
  std::string message;  // names the rule/object and the reason
};

template <typename T>
class [[nodiscard]] Result {
 public:
  Result(T v) : v_(std::move(v)) {}                        // NOLINT(google-explicit-constructor)
  Result(Error e) : v_(std::move(e)) {}                    // NOLINT(google-explicit-constructor)
  bool ok() const { return v_.index() == 0; }
  explicit operator bool() const { return ok(); }
  T& value() & { return std::get<0>(v_); }
  const T& value() const& { return std::get<0>(v_); }
  T&& value() && { return std::get<0>(std::move(v_)); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }
  T& operator*() & { return value(); }
  const Error& error() const { return std::get<1>(v_); }

 private:
  std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
 public:
  Result() = default;
  Result(Error e) : e_(std::move(e)), ok_(false) {}        // NOLINT(google-explicit-constructor)
  bool ok() const { return ok_; }
  explicit operator bool() const { return ok_; }
  const Error& error() const { return e_; }

 private:
  Error e_;
  bool ok_ = true;
};

inline Error make_error(int err, std::string msg) { return Error{err, std::move(msg)}; }

}  // namespace nfjit
