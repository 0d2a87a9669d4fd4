#pragma once
// The few LAPACK routines ebmflow calls, as OpenBLAS exports them (Debian
// ships no LAPACK header beside cblas.h). Fortran takes every argument by
// address; the trailing size_t arguments are the lengths of the character
// arguments, which gfortran passes by value after the others.

#include <cstddef>

extern "C" {
// Symmetric eigen-decomposition, divide and conquer (models/pca.cpp).
void dsyevd_(const char* jobz, const char* uplo, const int* n, double* a, const int* lda, double* w, double* work,
             const int* lwork, int* iwork, const int* liwork, int* info, size_t jobz_len, size_t uplo_len);
// Cholesky factor, solves with it, and the inverse from it (ops/gp.cpp).
void dpotrf_(const char* uplo, const int* n, double* a, const int* lda, int* info, size_t uplo_len);
void dpotrs_(const char* uplo, const int* n, const int* nrhs, const double* a, const int* lda, double* b,
             const int* ldb, int* info, size_t uplo_len);
void dpotri_(const char* uplo, const int* n, double* a, const int* lda, int* info, size_t uplo_len);
}
