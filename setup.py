from setuptools import find_packages, setup

setup(
    name="kdspeech",
    version="0.1.0",
    description="Knowledge-distillation recipes for speech and audio (Kaldi/ESPnet style)",
    packages=find_packages(include=["kdspeech", "kdspeech.*"]),
    python_requires=">=3.10",
    install_requires=[
        "torch", "torchaudio", "numpy", "soundfile", "soxr", "pyyaml",
        "pesq", "pystoi", "jiwer", "tqdm", "tensorboard", "matplotlib",
    ],
    entry_points={"console_scripts": ["kdspeech = kdspeech.console:console"]},
)
