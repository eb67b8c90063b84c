// Shape, indexing and joining ops.
#include "common.h"

namespace bfpo {

void InitShape(Napi::Env env, Napi::Object exports) {
  Export(env, exports, "reshape", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), TensorArg(info, 0).reshape(IntListArg(info, 1)));
  });
  Export(env, exports, "view", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), TensorArg(info, 0).view(IntListArg(info, 1)));
  });
  Export(env, exports, "permute", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), TensorArg(info, 0).permute(IntListArg(info, 1)));
  });
  Export(env, exports, "transpose", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), TensorArg(info, 0).transpose(IntArg(info, 1), IntArg(info, 2)));
  });
  // narrow(t, dim, start, length)
  Export(env, exports, "narrow", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), TensorArg(info, 0).narrow(IntArg(info, 1), IntArg(info, 2), IntArg(info, 3)));
  });
  // slice(t, dim, start|null, end|null, step)
  Export(env, exports, "slice", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), TensorArg(info, 0).slice(IntArg(info, 1), OptionalIntArg(info, 2), OptionalIntArg(info, 3),
                                                     IntArg(info, 4)));
  });
  // select(t, dim, index): drops the dim
  Export(env, exports, "select", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), TensorArg(info, 0).select(IntArg(info, 1), IntArg(info, 2)));
  });
  Export(env, exports, "indexSelect", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::index_select(TensorArg(info, 0), IntArg(info, 1), TensorArg(info, 2)));
  });
  Export(env, exports, "gather", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::gather(TensorArg(info, 0), IntArg(info, 1), TensorArg(info, 2)));
  });
  // scatter(t, dim, index, src tensor or scalar)
  Export(env, exports, "scatter", [](const Napi::CallbackInfo& info) {
    at::Tensor& t = TensorArg(info, 0);
    if (IsTensor(info[3])) return Wrap(info.Env(), at::scatter(t, IntArg(info, 1), TensorArg(info, 2), TensorArg(info, 3)));
    return Wrap(info.Env(), at::scatter(t, IntArg(info, 1), TensorArg(info, 2), ScalarArg(info, 3)));
  });
  Export(env, exports, "scatterAdd", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::scatter_add(TensorArg(info, 0), IntArg(info, 1), TensorArg(info, 2), TensorArg(info, 3)));
  });
  Export(env, exports, "cat", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::cat(TensorListArg(info, 0), IntArg(info, 1)));
  });
  Export(env, exports, "stack", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::stack(TensorListArg(info, 0), IntArg(info, 1)));
  });
  // split(t, sizes, dim) -> tensors
  Export(env, exports, "split", [](const Napi::CallbackInfo& info) {
    return WrapList(info.Env(), at::split_with_sizes(TensorArg(info, 0), IntListArg(info, 1), IntArg(info, 2)));
  });
  Export(env, exports, "chunk", [](const Napi::CallbackInfo& info) {
    return WrapList(info.Env(), at::chunk(TensorArg(info, 0), IntArg(info, 1), IntArg(info, 2)));
  });
  Export(env, exports, "expand", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), TensorArg(info, 0).expand(IntListArg(info, 1)));
  });
  Export(env, exports, "repeat", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), TensorArg(info, 0).repeat(IntListArg(info, 1)));
  });
  Export(env, exports, "repeatInterleave", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::repeat_interleave(TensorArg(info, 0), IntArg(info, 1), IntArg(info, 2)));
  });
  Export(env, exports, "unsqueeze", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), TensorArg(info, 0).unsqueeze(IntArg(info, 1)));
  });
  Export(env, exports, "squeeze", [](const Napi::CallbackInfo& info) {
    auto dim = OptionalIntArg(info, 1);
    return Wrap(info.Env(), dim ? TensorArg(info, 0).squeeze(*dim) : TensorArg(info, 0).squeeze());
  });
  Export(env, exports, "flatten", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), TensorArg(info, 0).flatten(IntArg(info, 1), IntArg(info, 2)));
  });
  Export(env, exports, "tril", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::tril(TensorArg(info, 0), IntArg(info, 1)));
  });
  Export(env, exports, "triu", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::triu(TensorArg(info, 0), IntArg(info, 1)));
  });
  // maskedFill(t, mask, value scalar or 0-dim tensor)
  Export(env, exports, "maskedFill", [](const Napi::CallbackInfo& info) {
    if (IsTensor(info[2])) return Wrap(info.Env(), at::masked_fill(TensorArg(info, 0), TensorArg(info, 1), TensorArg(info, 2)));
    return Wrap(info.Env(), at::masked_fill(TensorArg(info, 0), TensorArg(info, 1), ScalarArg(info, 2)));
  });
  Export(env, exports, "maskedFill_", [](const Napi::CallbackInfo& info) {
    TensorArg(info, 0).masked_fill_(TensorArg(info, 1), ScalarArg(info, 2));
    return info.Env().Undefined();
  });
  // where(cond, a, b): a and b may be scalars
  Export(env, exports, "where", [](const Napi::CallbackInfo& info) {
    const at::Tensor& cond = TensorArg(info, 0);
    const at::Tensor* like = IsTensor(info[1]) ? &TensorArg(info, 1) : IsTensor(info[2]) ? &TensorArg(info, 2) : &cond;
    at::Tensor a = TensorOrScalarArg(info, 1, like);
    at::Tensor b = TensorOrScalarArg(info, 2, like);
    if (!IsTensor(info[1]) && !IsTensor(info[2])) {
      // Two Python-like scalars: the result takes their promoted type, as torch.where does.
      a.unsafeGetTensorImpl()->set_wrapped_number(false);
      b.unsafeGetTensorImpl()->set_wrapped_number(false);
      auto common = at::promote_types(a.scalar_type(), b.scalar_type());
      if (at::isFloatingType(common)) common = c10::typeMetaToScalarType(at::get_default_dtype());
      a = a.to(common);
      b = b.to(common);
    }
    return Wrap(info.Env(), at::where(cond, a, b));
  });
  Export(env, exports, "flip", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::flip(TensorArg(info, 0), IntListArg(info, 1)));
  });
  Export(env, exports, "nonzero", [](const Napi::CallbackInfo& info) {
    return Wrap(info.Env(), at::nonzero(TensorArg(info, 0)));
  });
  // indexPut_(t, index along dim 0 (int64), values): t[index] = values
  Export(env, exports, "indexCopy_", [](const Napi::CallbackInfo& info) {
    TensorArg(info, 0).index_copy_(IntArg(info, 1), TensorArg(info, 2), TensorArg(info, 3));
    return info.Env().Undefined();
  });
}

}  // namespace bfpo
