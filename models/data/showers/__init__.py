"""Calorimeter showers: a parametric electromagnetic shower simulator written in the public
layouts (CaloChallenge voxels, CaloClouds point clouds), their loaders and a physics summary."""
from .formats import iter_point_clouds, iter_voxel_showers, read_point_clouds, read_voxel_showers
from .generate import generate_showers, shower_settings
from .geometry import GEOMETRIES

__all__ = ["GEOMETRIES", "generate_showers", "iter_point_clouds", "iter_voxel_showers", "read_point_clouds",
           "read_voxel_showers", "shower_settings"]
