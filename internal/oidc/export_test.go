package oidc

// RecoveredPanics exposes the panic counter to the external tests.
func RecoveredPanics() int64 { return recoveredPanics.Load() }

// DecodeStrictObject exposes the strict JSON decoder to the external tests.
var DecodeStrictObject = decodeStrictObject
