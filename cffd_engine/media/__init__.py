"""Evidence in: video and image reading, hashing, face detection, landmarks, tracking, crops.

Frames are RGB uint8 arrays (H x W x 3) everywhere in the engine.
"""
