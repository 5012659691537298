// Built only with SENTIMENT_STATIC_DEPS. Debian's libicuuc.a is not position-independent in one
// place: putil.o reads glibc's __timezone and tzname with PC-relative relocations, which a
// shared library cannot bind to another shared object. These hidden definitions satisfy them
// inside libsentiment_encoder.so. The encoder uses ICU's character properties only; ICU's time
// zone functions (the only readers of these two) are never called.
extern "C" {
__attribute__((visibility("hidden"))) long __timezone = 0;
__attribute__((visibility("hidden"))) char* tzname[2] = {nullptr, nullptr};
}
