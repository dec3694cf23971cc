import pytest
import torch

from gen3d import device as device_module
from gen3d.device import DeviceError, resolve_device, resolve_dtype, resolve_field_dtype


def test_auto_picks_cuda_only_when_available():
    expected = "cuda" if torch.cuda.is_available() else "cpu"
    assert resolve_device("auto").type == expected


def test_cpu_is_float32_by_default():
    cpu = resolve_device("cpu")
    assert cpu == torch.device("cpu")
    assert resolve_dtype("auto", cpu) == torch.float32
    assert resolve_dtype("bfloat16", cpu) == torch.bfloat16


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the error on CPU-only machines")
def test_cuda_without_a_gpu_is_a_clear_error():
    with pytest.raises(DeviceError, match="no CUDA GPU"):
        resolve_device("cuda")


def test_nonsense_device_and_dtype_are_clear_errors():
    with pytest.raises(DeviceError, match="unknown device 'banana'"):
        resolve_device("banana")
    with pytest.raises(DeviceError, match="unknown dtype 'int3'"):
        resolve_dtype("int3", torch.device("cpu"))


@pytest.mark.gpu
def test_cuda_auto_dtype_is_bf16_where_supported():
    device = resolve_device("auto")
    assert device.type == "cuda"
    expected = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float32
    assert resolve_dtype("auto", device) == expected


@pytest.mark.parametrize("native", [True, False])
def test_cpu_field_queries_use_bf16_only_where_the_cpu_computes_it(monkeypatch, native):
    monkeypatch.setattr(
        device_module, "cpu_computes_natively", lambda dtype: dtype == torch.float32 or native
    )
    cpu = torch.device("cpu")
    expected = torch.bfloat16 if native else torch.float32
    assert resolve_field_dtype("auto", cpu) == expected
    assert resolve_dtype("auto", cpu) == torch.float32  # the DiT and encoders stay float32
    # A lower precision named outright is emulated, and slow, on a CPU without it.
    assert resolve_field_dtype("bfloat16", cpu) == expected
    assert resolve_field_dtype("float16", cpu) == (torch.float16 if native else torch.float32)
    assert resolve_field_dtype("float32", cpu) == torch.float32  # every query exact
    with pytest.raises(DeviceError, match="unknown dtype"):
        resolve_field_dtype("int3", cpu)


def test_the_native_precision_probe_answers_for_this_cpu():
    assert device_module.cpu_computes_natively(torch.float32)
    assert isinstance(device_module.cpu_computes_natively(torch.bfloat16), bool)
    assert not device_module.cpu_computes_natively(torch.int8)  # not a float type we use
